package main

import (
	"strings"
	"testing"
)

func TestReportsTypeErrorsInDarwinCode(t *testing.T) {
	c, err := newChecker("../../..")
	if err != nil {
		t.Fatal(err)
	}
	errs, n := c.checkDirs([]string{"testdata/bad"})
	if n != 1 {
		t.Fatalf("checked %d packages", n)
	}
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	if !strings.Contains(joined, "bad_darwin_arm64.go:7") || !strings.Contains(joined, "bad_darwin_arm64.go:8") || !strings.Contains(joined, "NoSuchFunction") {
		t.Fatalf("want errors at lines 7 and 8, got:\n%s", joined)
	}
}

func TestAcceptsCorrectDarwinCode(t *testing.T) {
	c, err := newChecker("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if errs, n := c.checkDirs([]string{"testdata/good"}); len(errs) != 0 || n != 1 {
		t.Fatalf("checked %d, errors %v", n, errs)
	}
}
