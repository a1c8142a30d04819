# `sam build` builds each function with its target here (BuildMethod: makefile in template.yaml), in a copy
# of this directory (node_modules included: run `npm ci` first) and with ARTIFACTS_DIR set to the function's
# build directory. Each target validates deployer.config.yaml, checks it against samconfig.toml's scope, and
# bundles the handler with it (and sts.js beside it): the functions ship the YAML as it is, never a stale
# deployer.config.json; an invalid YAML ships nothing.
# By hand: make build-DeployFunction ARTIFACTS_DIR=$(mktemp -d)

BUNDLE = node scripts/build.mjs --function

.PHONY: build-DeployFunction build-NotifyFunction build-ReconcileFunction

build-DeployFunction:
	$(BUNDLE) handlers/deploy.ts "$(ARTIFACTS_DIR)"

build-NotifyFunction:
	$(BUNDLE) handlers/notify.ts "$(ARTIFACTS_DIR)"

build-ReconcileFunction:
	$(BUNDLE) handlers/reconcile.ts "$(ARTIFACTS_DIR)"
