package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/loglet/loglet/sidecar/bytesize"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// environment is the process environment as Load sees it: the last of
// repeated NAME=VALUE entries wins, as in getenv.
type environment map[string]string

func parseEnviron(environ []string) environment {
	m := environment{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

func (e environment) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// decode sets the fields of the struct dst points to from env, by their
// env, envDefault, envPrefix and envSeparator tags. An unset variable, or
// one set to the empty string, takes its default, except with the tag
// empty:"keep", where the empty string is the value. It returns a problem
// per variable that does not parse, and adds the variable's name to
// failed, so that validate does not report the zero value left behind a
// second time.
func decode(env environment, dst any, failed map[string]bool) []error {
	return decodeStruct(env, reflect.ValueOf(dst).Elem(), "", failed)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[bytesize.Size]()
	podEnvType   = reflect.TypeFor[podinfo.Env]()
)

func decodeStruct(env environment, v reflect.Value, prefix string, failed map[string]bool) []error {
	var errs []error
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != podEnvType {
			errs = append(errs, decodeStruct(env, v.Field(i), prefix+f.Tag.Get("envPrefix"), failed)...)
			continue
		}
		tag := f.Tag.Get("env")
		if tag == "" {
			continue
		}
		name := prefix + tag
		text, set := env[name]
		if !set || (text == "" && f.Tag.Get("empty") != "keep") {
			text = f.Tag.Get("envDefault")
		}
		if err := decodeValue(v.Field(i), text, f.Tag.Get("envSeparator")); err != nil {
			failed[name] = true
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errs
}

// decodeValue parses text into v. Its errors quote text and give the
// accepted forms; the caller prefixes the variable's name.
func decodeValue(v reflect.Value, text, sep string) error {
	switch {
	case v.Type() == durationType:
		if text == "" {
			v.SetInt(0)
			return nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a duration (a number and a unit: 250ms, 5s, 1m30s)", text)
		}
		v.SetInt(int64(d))
	case v.Type() == sizeType:
		if text == "" {
			v.SetInt(0)
			return nil
		}
		z, err := bytesize.Parse(text)
		if err != nil {
			return err
		}
		v.SetInt(int64(z))
	case v.Kind() == reflect.String:
		v.SetString(text)
	case v.Kind() == reflect.Bool:
		if text == "" {
			v.SetBool(false)
			return nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", text)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		if text == "" {
			v.SetInt(0)
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if sep == "" {
			sep = ","
		}
		var list []string
		if text != "" {
			list = strings.Split(text, sep)
		}
		v.Set(reflect.ValueOf(list))
	default:
		panic(fmt.Sprintf("config: no decoder for %s", v.Type())) // a programming error, caught by every test
	}
	return nil
}
