package main

import (
	_ "github.com/hashicorp/vault/vault"
	_ "github.com/hashicorp/vault/http"
	_ "github.com/hashicorp/vault-plugin-secrets-kv"
	_ "github.com/hashicorp/vault/builtin/logical/transit"
	_ "github.com/hashicorp/vault/builtin/credential/userpass"
	_ "github.com/hashicorp/vault/builtin/credential/approle"
	_ "github.com/hashicorp/vault/sdk/physical/inmem"
)

func main() {}
