// Package pkgdoc holds a repository-wide test: every Go package in SKER
// has a package doc comment ("// Package x ..." above the package clause in
// one of its files, by habit doc.go or the file named after the package).
// The package has no code of its own.
package pkgdoc
