package playbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadStoreSettings reads a store settings file: a playbook's secrets
// section on its own (and optionally state, where imports are journaled),
// for whoever keeps credentials without a playbook of their own — the
// incoming provider importing a dossier bundle:
//
//	secrets:
//	  store: file
//	  file: {path: creds.age, identity: key.txt}
//	state: .handover/imports
//
// The result is a Playbook with only File, Dir, Hash, Secrets and State set.
func LoadStoreSettings(path string) (*Playbook, *Decoder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	d := NewDecoder(path)
	sum := sha256.Sum256(data)
	pb := &Playbook{File: path, Dir: filepath.Dir(path), Hash: hex.EncodeToString(sum[:])}
	pb.Secrets.Store = "file"
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		d.unreadable = true
		if errors.Is(err, io.EOF) {
			d.Errorf(&yaml.Node{Line: 1, Column: 1}, "store settings are empty")
			return pb, d, nil
		}
		d.diags = append(d.diags, yamlError(path, err)...)
		return pb, d, nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.Map(root, "store settings", map[string]Field{
		"secrets": {Required: true, Decode: func(n *yaml.Node) { decodeSecrets(d, n, &pb.Secrets) }},
		"state":   {Decode: func(n *yaml.Node) { pb.State = d.NonEmpty(n, "state") }},
	})
	if pb.State == "" {
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		pb.State = filepath.Join(".handover", base)
	}
	return pb, d, nil
}
