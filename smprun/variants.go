package smprun

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/smp-project/smp/spec"
)

// Sources are where the variants of `smp run` come from: config files,
// --variant flags and URLs, with the flags that override them all.
type Sources struct {
	// Files are SMP test configs (-f); several are variants, named by
	// their name field, else their file name.
	Files []string
	// Variants are NAME=URL or NAME=CONFIG-FILE (--variant); with them,
	// at most one file, the config every URL variant uses.
	Variants []string
	// Settings override every config; Settings.URLs are the URL arguments.
	Settings Settings
	// Plan and Generator go to every variant; the plan's BaseDir is set
	// per variant, to its config file's directory.
	Plan      PlanOptions
	Generator Generator
	// LoadConfig reads a test config file, with the mesh it names (nil
	// when none); its errors are returned as they are.
	LoadConfig func(path string) (*spec.PerformanceTestConfig, *spec.ServiceMesh, error)
}

// Variants turns sources into the variants of a series: one unnamed
// variant unless several are given. Every error is bad input.
func Variants(src Sources) ([]Variant, error) {
	s, urls := src.Settings, src.Settings.URLs
	switch {
	case len(src.Variants) > 0:
		if len(urls) > 0 {
			return nil, errors.New("with --variant give each URL as NAME=URL, not as an argument")
		}
		if len(src.Files) > 1 {
			return nil, errors.New("with --variant give at most one -f (the config every URL variant uses)")
		}
		var vs []Variant
		for _, arg := range src.Variants {
			name, tgt, ok := strings.Cut(arg, "=")
			if !ok || strings.TrimSpace(tgt) == "" {
				return nil, fmt.Errorf("--variant %q: want NAME=URL or NAME=CONFIG-FILE", arg)
			}
			name, tgt = strings.TrimSpace(name), strings.TrimSpace(tgt)
			vs2 := s
			file := ""
			if strings.Contains(tgt, "://") {
				vs2.URLs = []string{tgt}
				if len(src.Files) == 1 {
					file = src.Files[0]
				}
			} else {
				if len(src.Files) > 0 {
					return nil, fmt.Errorf("--variant %s: a config file variant does not combine with -f", arg)
				}
				file = tgt
			}
			v, err := src.variant(name, file, vs2)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		return vs, nil
	case len(src.Files) > 1:
		var vs []Variant
		for _, f := range src.Files {
			v, err := src.variant("", f, s)
			if err != nil {
				return nil, err
			}
			v.Name = v.Config.GetName()
			if v.Name == "" {
				v.Name = strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			}
			v.Result.Labels = map[string]string{"variant": v.Name}
			vs = append(vs, v)
		}
		return vs, nil
	case len(src.Files) == 1:
		v, err := src.variant("", src.Files[0], s)
		return []Variant{v}, err
	case len(urls) == 0:
		return nil, errors.New("no target: give a URL, an SMP config with -f, or --variant NAME=URL")
	}
	v, err := src.variant("", "", s)
	return []Variant{v}, err
}

// variant builds one variant: the config in file (none: flags only) with
// the settings applied.
func (src Sources) variant(name, file string, s Settings) (Variant, error) {
	v := Variant{Name: name, Plan: src.Plan, Result: ResultOptions{Generator: src.Generator}}
	var base *spec.PerformanceTestConfig
	if file != "" {
		if src.LoadConfig == nil {
			return v, fmt.Errorf("%s: no way to read config files", file)
		}
		cfg, mesh, err := src.LoadConfig(file)
		if err != nil {
			return v, err
		}
		base, v.Result.Mesh, v.Plan.BaseDir = cfg, mesh, filepath.Dir(file)
	}
	cfg, err := ApplySettings(base, s)
	if err != nil {
		return v, err
	}
	v.Config = cfg
	if name != "" {
		v.Result.Labels = map[string]string{"variant": name}
	}
	return v, nil
}

// CheckSeries refuses, before anything runs, a series that cannot run or
// whose outputs cannot be written: variant names that do not name files
// (CheckVariantNames), a stdout format that prints one result with
// several variants, or a variant that needs more open files than limit
// (CheckFiles; 0: no limit known). Every error is bad input.
func CheckSeries(vs []Variant, out Outputs, limit uint64) error {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	if err := CheckVariantNames(names); err != nil {
		return err
	}
	if len(vs) > 1 && out.Format != "" && out.Format != "text" {
		return fmt.Errorf("--format %s prints one result; with %d variants use -o, which writes one result per variant", out.Format, len(vs))
	}
	if len(vs) > 1 {
		if err := out.CheckPaths(names); err != nil {
			return err
		}
	}
	for _, v := range vs {
		if err := CheckFiles(v.Config, limit); err != nil {
			if v.Name != "" {
				err = fmt.Errorf("variant %s: %w", v.Name, err)
			}
			return err
		}
	}
	return nil
}

// CheckVariantNames checks the names of a series' variants: with more than
// one, each needs a name, unique, made of letters, digits, '.', '_' and '-'
// (it becomes part of file names: VariantPath).
func CheckVariantNames(names []string) error {
	if len(names) < 2 {
		return nil
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			return invalid("every variant needs a name (name=URL)")
		case strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || strings.HasPrefix(n, "."):
			return invalid("variant name %q: use letters, digits, '.', '_' and '-' (it names output files)", n)
		case seen[n]:
			return invalid("variant name %q is given twice", n)
		}
		seen[n] = true
	}
	return nil
}

// VariantPath is where a variant's output goes when a series has several:
// path with "-name" before its extension (out.yaml → out-base.yaml), or
// path itself for an unnamed variant.
func VariantPath(path, name string) string {
	if name == "" {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + name + ext
}
