package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// checker type-checks packages for darwin/arm64 from source.
type checker struct {
	ctx     build.Context
	deps    *depCache
	fset    *token.FileSet
	root    string
	module  string
	pkgs    map[string]*types.Package // the module's own packages
	ownErrs []error
}

// depCache holds the checked packages from outside a module (the standard
// library, Code-Hex/vz, ...), so checkers of modules that pin the same
// versions can share them.
type depCache struct {
	fset *token.FileSet
	pkgs map[string]*types.Package
}

func newDepCache() *depCache {
	return &depCache{fset: token.NewFileSet(), pkgs: map[string]*types.Package{}}
}

func newChecker(root string) (*checker, error) {
	return newCheckerWith(root, newDepCache())
}

// newCheckerWith checks the module at root, sharing deps.
func newCheckerWith(root string, deps *depCache) (*checker, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	module := modfile.ModulePath(data)
	if module == "" {
		return nil, errors.New("go.mod names no module")
	}
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "darwin", "arm64", true
	return &checker{ctx: ctx, deps: deps, fset: deps.fset, root: root, module: module, pkgs: map[string]*types.Package{}}, nil
}

// moduleDirs lists the module's package directories (skipping testdata,
// hidden and output directories).
func (c *checker) moduleDirs() ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(c.root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != c.root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "node_modules") {
			return filepath.SkipDir
		}
		dirs = append(dirs, path)
		return nil
	})
	return dirs, err
}

// checkDirs checks the packages in dirs; it returns the errors found in
// them and how many packages had darwin/arm64 files.
func (c *checker) checkDirs(dirs []string) ([]error, int) {
	checked := 0
	for _, dir := range dirs {
		abs, _ := filepath.Abs(dir)
		bp, err := c.ctx.ImportDir(abs, 0)
		if err != nil {
			var noGo *build.NoGoError
			if errors.As(err, &noGo) {
				continue
			}
			c.ownErrs = append(c.ownErrs, fmt.Errorf("%s: %w", dir, err))
			continue
		}
		if bp.Name == "main" && len(bp.GoFiles)+len(bp.CgoFiles) == 0 {
			continue
		}
		rel, _ := filepath.Rel(c.root, abs)
		path := c.module
		if rel != "." {
			path += "/" + filepath.ToSlash(rel)
		}
		c.check(path, bp, true)
		checked++
	}
	return c.ownErrs, checked
}

// cache is where path's package is kept: own packages per checker,
// dependencies in the shared cache.
func (c *checker) cache(own bool) map[string]*types.Package {
	if own {
		return c.pkgs
	}
	return c.deps.pkgs
}

func (c *checker) isOwn(path string) bool {
	return path == c.module || strings.HasPrefix(path, c.module+"/")
}

// check type-checks one package; own says whether its errors count.
func (c *checker) check(path string, bp *build.Package, own bool) *types.Package {
	if p, ok := c.cache(own)[path]; ok {
		return p
	}
	var files []*ast.File
	for _, name := range append(append([]string{}, bp.GoFiles...), bp.CgoFiles...) {
		f, err := parser.ParseFile(c.fset, filepath.Join(bp.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			if own {
				c.ownErrs = append(c.ownErrs, err)
			}
			continue
		}
		files = append(files, f)
	}
	conf := types.Config{
		FakeImportC: true,
		Importer:    importerFunc(func(p, dir string) (*types.Package, error) { return c.importFrom(p, dir) }),
		Error: func(err error) {
			if own {
				c.ownErrs = append(c.ownErrs, err)
			}
		},
		Sizes: types.SizesFor("gc", "arm64"),
	}
	pkg, _ := conf.Check(path, c.fset, files, nil)
	c.cache(own)[path] = pkg
	return pkg
}

func (c *checker) importFrom(path, srcDir string) (*types.Package, error) {
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	own := c.isOwn(path)
	if p, ok := c.cache(own)[path]; ok {
		return p, nil
	}
	bp, err := c.ctx.Import(path, srcDir, 0)
	if err != nil {
		return nil, err
	}
	return c.check(path, bp, own), nil
}

type importerFunc func(path, dir string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path, "") }
func (f importerFunc) ImportFrom(path, dir string, _ types.ImportMode) (*types.Package, error) {
	return f(path, dir)
}
