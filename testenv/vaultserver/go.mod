module github.com/handoverhq/handover/testenv/vaultserver

go 1.26.0
