#!/usr/bin/env bash
# Starts the node's downloads (releases.sh) in a unit of their own, do-k8s-ha-releases.service,
# and returns without waiting for them (--no-block): they run beside cloud-init from the moment
# sshd answers, while this step holds one of the engine's --parallel slots for one SSH connection,
# not for the minute of the downloads (docs/performance.md). Node setup and each upgrade step wait
# for the unit (releases-wait.fragment) and fail with its log if it failed. Run again (a new
# kubernetesVersion, new checksums), it starts the new downloads; a run still going is stopped
# first, and what it fetched stays for the new run to resume.
set -euo pipefail

# Puts the script on stdin at the path given, mode 0755, whole or not at all: it is written beside
# the path and moved over it, so a unit that starts meanwhile runs the old script or the new one,
# never a part of one.
install_tool() { # path
  cat > "$1.new"
  chmod 0755 "$1.new"
  mv -f "$1.new" "$1"
}

umask 022
install_tool /usr/local/sbin/do-k8s-ha-releases <<'DOWNLOADS'
#!/usr/bin/env bash
# The node's downloads, Kubespray's download model: kubeadm, kubelet, kubectl, containerd, runc,
# crictl and the CNI plugins of the cluster's release, from their release locations, each checked
# against the checksum table. Its unit, do-k8s-ha-releases.service, runs it as soon as SSH
# answers, beside cloud-init (it needs nothing user data installs), so that node setup and
# kubeadm only configure and start (releases-start.sh). On a node that has not joined it installs
# them, starts containerd and pulls the images kubeadm will run. On a joined node it only fills
# the cache: what runs there changes only in the rolling upgrade, which then finds the new
# release's files here. Then, on every node, it starts the pull of the pod network's images.
set -euo pipefail

KUBERNETES_VERSION='1.35.1'
CONTROL_PLANE=false

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


fetch_releases <<'FILES'
kubeadm 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubeadm 8a7ff344eef1bfba88f9a74b3fdc9ea4448c94f1b3cefb8c0aeeaf1f96e05053
kubelet 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubelet e7343310e03ff0d424df4397bdfa4468947d6d1f0f93dac586c1e8d6e4086d5d
kubectl 1.35.1 https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubectl 36e2f4ac66259232341dd7866952d64a958846470f6a9a6a813b9117bd965207
containerd 2.3.4 https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz 9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168
runc 1.4.3 https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64 f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60
crictl 1.35.0 https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz 2e141e5b22cb189c40365a11807d69b76b9b3caced89fac2f4ec879408ce2177
cni 1.9.1 https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303
FILES

# The pod network's every-node images, pulled ahead through the running containerd by a unit of
# their own (pull-images.sh), which nothing waits for: Calico's pods find them when they start.
pull_pod_network_images() {
  systemctl restart --no-block do-k8s-ha-pod-network-images.service
}

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$(hostname) has joined: Kubernetes v$KUBERNETES_VERSION is in its cache for the rolling upgrade"
  pull_pod_network_images
  exit 0
fi

install_kubernetes kubeadm kubelet kubectl
sandbox=$(sandbox_image "$KUBERNETES_VERSION")
install_runtime "$sandbox"
install_kubelet_unit

# kubeadm's images, but etcd's: etcd runs outside the cluster (etcd-install.sh). A worker runs
# kube-proxy and the pause image only.
listed=$(kubeadm config images list --kubernetes-version "v$KUBERNETES_VERSION")
if [ "$CONTROL_PLANE" = true ]; then
  mapfile -t images < <(grep -v '/etcd:' <<<"$listed")
else
  mapfile -t images < <(grep -E '/(kube-proxy|pause):' <<<"$listed")
fi
pull_images "${images[@]}"
echo "$(hostname) has Kubernetes v$KUBERNETES_VERSION and containerd $(containerd --version | cut -d' ' -f3), images pulled"
pull_pod_network_images
DOWNLOADS
cat > /etc/systemd/system/do-k8s-ha-releases.service <<'UNIT'
[Unit]
Description=The node's downloads: Kubernetes, its runtime and their images (do-k8s-ha)
After=network-online.target
Wants=network-online.target

[Service]
# Active once its run succeeded, so a later start (a step's wait) returns at once; a start after a
# failed run runs it again; a start while it runs waits for that run (systemctl(1), start).
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/do-k8s-ha-releases
TimeoutStartSec=30min
UNIT
# The pod network's images, which the downloads start at their end.
install_tool /usr/local/sbin/do-k8s-ha-pull-pod-network-images <<'PULL'
#!/usr/bin/env bash
# Pulls the pod network's images through the node's containerd, run by its unit
# (pod-network-images.service, which the downloads start at their end, releases.sh; its output
# in journalctl -u do-k8s-ha-pod-network-images). Nothing waits for it. An
# image already there is not pulled again. One that cannot be pulled ahead fails the unit after
# the others are in: the operator decides its images, and its pods pull what they lack.
set -euo pipefail

IMAGES=('quay.io/calico/node:v3.30.6' 'quay.io/calico/cni:v3.30.6' 'quay.io/calico/pod2daemon-flexvol:v3.30.6' 'quay.io/calico/csi:v3.30.6' 'quay.io/calico/node-driver-registrar:v3.30.6')

failed=0
for image in "${IMAGES[@]}"; do
  if crictl inspecti "$image" >/dev/null 2>&1; then
    continue
  fi
  if crictl pull "$image" >/dev/null; then
    echo "pulled $image"
  else
    echo "could not pull $image ahead; the pod network pulls it when it starts" >&2
    failed=1
  fi
done
exit "$failed"
PULL
cat > /etc/systemd/system/do-k8s-ha-pod-network-images.service <<'UNIT'
[Unit]
Description=The pod network's images, pulled ahead of its pods (do-k8s-ha)
After=containerd.service
Wants=containerd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/do-k8s-ha-pull-pod-network-images
UNIT
systemctl daemon-reload
systemctl restart --no-block do-k8s-ha-releases.service
echo "$(hostname) downloads Kubernetes v1.35.1 in the background: journalctl -u do-k8s-ha-releases"
