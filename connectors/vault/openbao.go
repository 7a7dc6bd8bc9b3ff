package vault

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
)

// OpenBao, Vault's fork, keeps the API this connector reads, but its
// later releases turn off or replace endpoints the changes rely on (the
// unauthenticated sys/rekey/* and sys/generate-root/*, audit devices
// created through the API), and the connector has never run against a
// live OpenBao. So an OpenBao is inventoried, and no change is planned on
// it: the plan says why (docs/connectors/vault.md, OpenBao).

// product says which server answers: "OpenBao" or "Vault", and what
// told. Vault's releases are 1.x and its default cluster name
// "vault-cluster-…"; OpenBao's are 2.x (since its first, 2.0.0) and its
// default cluster name "openbao-cluster-…". Nothing else in sys/seal-status
// tells them apart (both carry version and build_date).
func product(st *api.SealStatusResponse) (string, string) {
	if strings.HasPrefix(st.ClusterName, "openbao-") {
		return "OpenBao", fmt.Sprintf("cluster name %q", st.ClusterName)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(st.Version, "v"), ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 2 {
		return "OpenBao", fmt.Sprintf("version %s (Vault's releases are 1.x, OpenBao's 2.x)", st.Version)
	}
	return "Vault", "version " + st.Version
}

// openBaoRefusal is the plan's problem on an OpenBao.
func openBaoRefusal(why string) error {
	return fmt.Errorf("this is OpenBao (%s), which the vault connector has not been tested against: it is inventoried, and no change is planned on it "+
		"(its rekey and generate-root endpoints differ from Vault's: sys/rotate/root/* and sys/generate-root-token/* in recent releases; "+
		"audit devices may not be creatable through its API); make the changes by hand, see docs/connectors/vault.md#openbao", why)
}
