#!/usr/bin/env bash
# Upgrades this node to TARGET as part of a rolling upgrade: TARGET's kubeadm, `kubeadm upgrade
# apply` (first control-plane node) or `kubeadm upgrade node`, drain, the container runtime the
# checksum table pairs with TARGET (containerd 2 and its version 3 config; on a node an earlier
# release set up from the distribution's packages, those packages make way first), kubelet and
# kubectl, uncordon, then it waits until this node is Ready. Every file is TARGET's from the
# release cache (the node's releases step fetched them; a file missing there is fetched here). A
# control-plane node drains and uncordons itself with its own admin.conf (KUBECONFIG_FILE); a
# worker has no such credential (KUBECONFIG_FILE is empty): a control-plane node drains it before
# this step and uncordons it after (worker-drain.sh).
# The order is the engine's: each step depends on the one before it, so this script never waits
# for another node (it would hold an engine slot while waiting). A node already on TARGET is
# left alone, so a second run changes nothing.
set -euo pipefail

NODE_NAME='node1'
TARGET='1.35.1'
KUBEADM_UPGRADE=apply
LOST_NODES=''
WAIT_SECONDS=600
export DEBIAN_FRONTEND=noninteractive

KUBECONFIG_FILE='/etc/kubernetes/admin.conf'

kc() { timeout 60 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

# An API server may restart under a call (a control-plane upgrade): give calls a few tries
# (RETRY_TRIES, 30 unless set), 5 s apart.
retry() {
  local attempt tries=${RETRY_TRIES:-30}
  for attempt in $(seq 1 "$tries"); do
    if "$@"; then
      return 0
    fi
    [ "$attempt" -lt "$tries" ] && sleep 5
  done
  return 1
}

# kubectl drain waits up to its --timeout (300 s) for the evictions; the command's own bound must
# outlast it, or a slow drain is killed at the bound and started over. A drain that timed out is
# tried twice more, not thirty times (each try may take its five minutes).
drain_node() {
  timeout 330 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s drain "$NODE_NAME" \
    --ignore-daemonsets --delete-emptydir-data --timeout=300s
}

# Release files are fetched once into RELEASE_CACHE, each checked against the sha256 the program
# gives (the checksum table, infra/Config/releases.json): a file already there with its checksum
# is kept, so a second run, and an upgrade to a release already fetched, downloads nothing. An
# interrupted download leaves <file>.part, which the next run resumes with a range request
# (curl -C -); a .part that does not complete to the file is dropped and the file fetched whole
# once more. A file that still has another checksum is removed and the step fails naming both:
# nothing unverified is ever installed.
RELEASE_CACHE=/var/cache/do-k8s-ha/releases

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

fetch_release() { # name version url sha256; prints the cached file's path
  local dir="$RELEASE_CACHE/$1/$2" file actual
  file="$dir/${3##*/}"
  if [ -f "$file" ] && [ "$(sha256_of "$file")" = "$4" ]; then
    echo "$1 $2: in the cache" >&2
    echo "$file"
    return 0
  fi
  mkdir -p "$dir" || return 1
  rm -f "$file"
  if [ -s "$file.part" ]; then
    echo "$1 $2: resuming an interrupted download" >&2
    if curl -fsSL --retry 4 --retry-delay 5 -C - -o "$file.part" "$3" && [ "$(sha256_of "$file.part")" = "$4" ]; then
      mv "$file.part" "$file" || return 1
      echo "$file"
      return 0
    fi
    rm -f "$file.part"
  fi
  # -L: dl.k8s.io and GitHub's release downloads answer with a redirect to their CDN. Each
  # failure returns at once: callers run this in a command substitution, where bash clears -e.
  local rc=0
  curl -fsSL --retry 4 --retry-delay 5 -C - -o "$file.part" "$3" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "could not fetch $3 (curl exit $rc); what arrived stays in $file.part, which the next run resumes" >&2
    return 1
  fi
  actual=$(sha256_of "$file.part") || return 1
  if [ "$actual" != "$4" ]; then
    rm -f "$file.part"
    echo "refused $3: its sha256 is $actual, not $4 (the checksum table, or releaseChecksums). Nothing was installed; check the release, then pulumi up again" >&2
    return 1
  fi
  mv "$file.part" "$file" || return 1
  echo "$1 $2: fetched, $(stat -c %s "$file") bytes" >&2
  echo "$file"
}

# Every file of a release, one "name version url sha256" line each on stdin, into RELEASE_FILE
# (release-install.fragment declares it): the path of each verified file by its name. The
# assignment fails with its command substitution, so -e stops the script at the first failure.
fetch_releases() {
  local name version url sha
  while read -r name version url sha; do
    RELEASE_FILE[$name]=$(fetch_release "$name" "$version" "$url" "$sha")
  done
}

# Waits for the node's downloads (do-k8s-ha-releases.service, which the releases step started):
# a start of the oneshot returns once its run ends, at once when it already succeeded
# (RemainAfterExit), and runs it again after a failed run (systemctl(1), start). A failure shows
# the unit's own words. Without the unit there is nothing to wait for: a droplet an earlier
# release of the program set up, whose downloads ran in their step (a lost node's replacement
# runs the step it last had).
wait_for_releases() {
  [ -f /etc/systemd/system/do-k8s-ha-releases.service ] || return 0
  if ! systemctl start do-k8s-ha-releases.service; then
    echo "the downloads failed on $(hostname):" >&2
    journalctl -u do-k8s-ha-releases.service -n 20 --no-pager -o cat >&2 || true
    return 1
  fi
}

# Puts fetched release files (RELEASE_FILE[name], fetch_release) where the node runs them, and
# writes containerd's and the kubelet's units and containerd's config. A file is replaced only
# when it differs, by a new file moved over it (a running binary keeps its inode); RELEASE_CHANGED
# lists what was replaced, so a second run changes nothing.
declare -A RELEASE_FILE=()
RELEASE_CHANGED=()

install_file() { # source destination mode
  if ! cmp -s "$1" "$2"; then
    install -D -m "$3" "$1" "$2.do-k8s-ha-new"
    mv -f "$2.do-k8s-ha-new" "$2"
    RELEASE_CHANGED+=("$2")
  fi
}

write_file() { # destination mode; the content on stdin
  local tmp
  tmp=$(mktemp)
  cat > "$tmp"
  install_file "$tmp" "$1" "$2"
  rm -f "$tmp"
}

install_kubernetes() { # the binaries to install: kubeadm kubelet kubectl
  local name
  for name in "$@"; do
    install_file "${RELEASE_FILE[$name]}" "/usr/local/bin/$name" 0755
  done
}

# containerd's pause image must be the one kubeadm expects for the release, or kubeadm warns and
# the kubelet runs pods on an image kubeadm never pre-pulled. The kubeadm just installed: root's
# PATH has /usr/local/bin before /usr/bin, where an earlier release's package kept its own.
sandbox_image() { # Kubernetes version, with its kubeadm installed
  kubeadm config images list --kubernetes-version "v$1" 2>/dev/null | grep '/pause:' \
    || { echo "kubeadm names no pause image for v$1" >&2; return 1; }
}

# containerd (its tarball's bin/), runc, crictl, the CNI plugins, and their config; restarts
# containerd when any of them changed (its containers keep running: KillMode=process).
install_runtime() { # sandbox image
  local scratch changed=${#RELEASE_CHANGED[@]} f sandbox=$1
  scratch=$(mktemp -d)
  mkdir -p "$scratch/containerd" "$scratch/crictl" "$scratch/cni"
  tar -xzf "${RELEASE_FILE[containerd]}" -C "$scratch/containerd" --strip-components=1
  for f in "$scratch"/containerd/*; do
    install_file "$f" "/usr/local/bin/${f##*/}" 0755
  done
  install_file "${RELEASE_FILE[runc]}" /usr/local/sbin/runc 0755
  tar -xzf "${RELEASE_FILE[crictl]}" -C "$scratch/crictl"
  install_file "$scratch/crictl/crictl" /usr/local/bin/crictl 0755
  tar -xzf "${RELEASE_FILE[cni]}" -C "$scratch/cni"
  for f in "$scratch"/cni/*; do
    if [ -f "$f" ] && [ -x "$f" ]; then
      install_file "$f" "/opt/cni/bin/${f##*/}" 0755
    fi
  done
  rm -rf "$scratch"
  write_file /etc/containerd/config.toml 0644 <<CONF
# do-k8s-ha: containerd 2.x. Config version 3, which every 2.x release reads (version 4, from 2.3,
# is refused by 2.2 and older: containerd's ValidateVersion), so a node reads it before and after a
# move between 2.x releases. Keys as containerd's docs/cri/config.md gives them; the rest are
# containerd's defaults (root /var/lib/containerd, where a 1.7 node's images already are).
version = 3

# The pause image kubeadm names for this Kubernetes release: kubeadm pre-pulls it and the kubelet
# expects it; containerd keeps a pinned image from its garbage collection.
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '${sandbox}'

# The kubelet uses the systemd cgroup driver (kubeadm's default since 1.22); runc must use the same.
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
CONF
  write_file /etc/systemd/system/containerd.service 0644 <<'UNIT'
# do-k8s-ha: containerd from its release tarball (/usr/local/bin), with the properties of the
# unit containerd ships (containerd.service in its repository). In /etc/systemd/system, so it
# also overrides a distribution package's unit on a node made by an earlier release.
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
# Containers outlive a restart of containerd: their shims keep them, and containerd finds them again.
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
UNIT
  write_file /etc/crictl.yaml 0644 <<'CONF'
runtime-endpoint: unix:///run/containerd/containerd.sock
image-endpoint: unix:///run/containerd/containerd.sock
timeout: 60
CONF
  systemctl daemon-reload
  systemctl enable containerd >/dev/null 2>&1
  if [ "${#RELEASE_CHANGED[@]}" -ne "$changed" ] || ! systemctl is-active --quiet containerd; then
    systemctl restart containerd
  fi
  local deadline=$((SECONDS + 60))
  until crictl info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "containerd does not answer on $(hostname) after 60s: journalctl -u containerd" >&2
      return 1
    fi
    sleep 1
  done
}

# The kubelet's unit and kubeadm's drop-in; kubeadm init or join starts the kubelet.
install_kubelet_unit() {
  write_file /etc/systemd/system/kubelet.service 0644 <<'UNIT'
# do-k8s-ha: the kubelet from dl.k8s.io (/usr/local/bin). kubeadm starts it; until then, and
# whenever it stops, systemd restarts it. In /etc/systemd/system, so it also overrides the
# package's unit on a node made by an earlier release.
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target containerd.service
After=network-online.target containerd.service

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
  write_file /etc/systemd/system/kubelet.service.d/10-kubeadm.conf 0644 <<'UNIT'
# do-k8s-ha: the drop-in kubeadm expects (kubeadm docs, "Configuring each kubelet in your cluster
# using kubeadm"): kubeadm init and join write kubeadm-flags.env and config.yaml, and the kubelet
# reads them through it. /etc/default/kubelet passes the kubelet-serving drop-ins (--config-dir).
# Named 10-kubeadm.conf in /etc, it masks the kubeadm package's of the same name in /usr/lib on a
# node made by an earlier release (systemd.unit(5): a drop-in in /etc overrides one of that name).
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
  systemctl daemon-reload
  systemctl enable kubelet >/dev/null 2>&1
}

# Images a node will run, pulled ahead; one already there is not pulled again.
pull_images() { # image...
  local image
  for image in "$@"; do
    if ! crictl inspecti "$image" >/dev/null 2>&1; then
      crictl pull "$image" >/dev/null || return 1
      echo "pulled $image"
    fi
  done
}


# An earlier release of this program installed kubeadm, kubelet, kubectl (held, from pkgs.k8s.io),
# containerd and runc from packages. They are removed before the release files take their
# places, so that no package removal takes a file of them later (kubernetes-cni's /opt/cni/bin).
# Removing containerd's package stops the service: its containers keep running (KillMode=process)
# and the containerd started next finds them and its images (root /var/lib/containerd, kept: a
# removal keeps what the package did not ship).
# An installed package is one whose status word is "installed": ${Status} is "want eflag status",
# and the want of a held package is "hold" (apt-mark hold), not "install" (dpkg-query(1),
# db:Status-Status), as kubelet, kubeadm and kubectl were held.
retire_packages() {
  local installed=() p
  for p in kubelet kubeadm kubectl kubernetes-cni cri-tools containerd runc; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ]; then
      installed+=("$p")
    fi
  done
  [ "${#installed[@]}" -gt 0 ] || return 0
  apt-mark unhold "${installed[@]}" >/dev/null 2>&1 || true
  apt-get -o DPkg::Lock::Timeout=600 remove -y -q "${installed[@]}"
  echo "removed the distribution's ${installed[*]}: the release files replace them"
}

upgraded() { # node: runs TARGET, is Ready and schedulable
  local state
  state=$(kc get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}/{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$state" = "v$TARGET//True" ]
}

wait_for() { # node, what
  local deadline=$((SECONDS + WAIT_SECONDS))
  until upgraded "$1"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "upgrade of $NODE_NAME: $1 $2 within ${WAIT_SECONDS}s. Look: kubectl get node $1 -o wide; kubectl describe node $1" >&2
      exit 1
    fi
    sleep 2 # one small GET per poll: the rollout moves on as soon as the node is back
  done
}

# kubeadm upgrade apply's preflight wants every control-plane Node Ready (phases/upgrade/health.go,
# controlPlaneNodesReady). A dead droplet the operator listed in lostNodes is not: that one check
# is ignored when the lost are the only NotReady ones; any other keeps it, and kubeadm stops.
apply_ignores() {
  local listing node
  [ -n "$LOST_NODES" ] || return 0
  listing=$(retry kc get nodes -l node-role.kubernetes.io/control-plane \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
  while IFS='=' read -r node ready; do
    [ -z "$node" ] || [ "$ready" = True ] || [[ " $LOST_NODES " == *" $node "* ]] || return 0
  done <<<"$listing"
  echo "--ignore-preflight-errors=ControlPlaneNodesReady"
}

# Set while this script has the node drained: a re-run after a failure uncordons it, but a node
# an operator cordoned stays cordoned.
DRAINED=/var/lib/do-k8s-ha/upgrade-drained

if [ "$(kubelet --version 2>/dev/null)" = "Kubernetes v$TARGET" ]; then
  if [ -n "$KUBECONFIG_FILE" ] && [ -f "$DRAINED" ]; then
    retry kc uncordon "$NODE_NAME"
    rm -f "$DRAINED"
  fi
  echo "$NODE_NAME already runs Kubernetes v$TARGET"
  exit 0
fi

echo "upgrading $NODE_NAME to Kubernetes v$TARGET"
# The releases step's unit fills the cache with TARGET's files: this step finds them there once it
# ended, and never fetches a file beside it.
wait_for_releases
fetch_releases <<'FILES'
kubeadm 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubeadm 8a7ff344eef1bfba88f9a74b3fdc9ea4448c94f1b3cefb8c0aeeaf1f96e05053
kubelet 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubelet e7343310e03ff0d424df4397bdfa4468947d6d1f0f93dac586c1e8d6e4086d5d
kubectl 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubectl 36e2f4ac66259232341dd7866952d64a958846470f6a9a6a813b9117bd965207
containerd 2.3.4 https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz 9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168
runc 1.4.3 https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64 f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60
crictl 1.35.0 https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz 2e141e5b22cb189c40365a11807d69b76b9b3caced89fac2f4ec879408ce2177
cni 1.9.1 https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303
FILES
# kubeadm upgrade runs TARGET's kubeadm, which the package's (older, first on no PATH) is not.
install_kubernetes kubeadm

if [ "$KUBEADM_UPGRADE" = apply ]; then
  ignore=$(apply_ignores)
  kubeadm upgrade apply --yes ${ignore:+"$ignore"} "v$TARGET"
else
  kubeadm upgrade node
fi

if [ -n "$KUBECONFIG_FILE" ]; then
  mkdir -p "$(dirname "$DRAINED")"
  touch "$DRAINED"
  RETRY_TRIES=3 retry drain_node
fi
retire_packages
sandbox=$(sandbox_image "$TARGET")
install_runtime "$sandbox"
install_kubernetes kubelet kubectl
install_kubelet_unit
systemctl restart kubelet
if [ -n "$KUBECONFIG_FILE" ]; then
  retry kc uncordon "$NODE_NAME"
  rm -f "$DRAINED"
  wait_for "$NODE_NAME" "did not come back Ready"
fi
echo "$NODE_NAME runs Kubernetes v$TARGET"
