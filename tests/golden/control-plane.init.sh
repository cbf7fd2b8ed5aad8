#!/usr/bin/env bash
# Makes this node a control-plane node. Every control-plane node runs this same script:
# `kubeadm init` happens only where MAY_INIT is true and no cluster (or no reachable API server)
# exists yet; otherwise the node joins through any peer that answers. The certificates come from
# the program's own CAs (control-plane-pki.sh), so joining needs no uploaded certificate key and
# no time window.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
MAY_INIT=true
ETCD_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
BOOTSTRAP_TOKEN='abcdef.0123456789abcdef'
KUBEADM_DIR=/etc/kubernetes/kubeadm
PKI=/etc/kubernetes/pki

umask 077
install -d -m 0700 "$KUBEADM_DIR"
cat > "$KUBEADM_DIR/init.yaml" <<'YAML'
# do-k8s-ha: kubeadm InitConfiguration of node1.
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.240.0.2
  bindPort: 6443
nodeRegistration:
  name: node1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    # Droplets have a public and a VPC interface: the cluster talks over the VPC.
    - name: node-ip
      value: 10.240.0.2

---
# do-k8s-ha: kubeadm ClusterConfiguration, uploaded to the cluster by the first `kubeadm init`.
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: k8s-dev
kubernetesVersion: v1.35.1
# Every node reaches the API servers at 127.0.0.1:6443: control-plane nodes their own API server,
# the others a local proxy to all of them. No load balancer or first node sits on that path.
controlPlaneEndpoint: 127.0.0.1:6443
certificatesDir: /etc/kubernetes/pki
networking:
  dnsDomain: cluster.local
  podSubnet: 10.233.64.0/18
  serviceSubnet: 10.233.0.0/18
etcd:
  external:
    endpoints:
      - https://10.240.0.2:2379
      - https://10.240.0.3:2379
      - https://10.240.0.4:2379
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
apiServer:
  certSANs:
    - 127.0.0.1
    - localhost
    - 198.51.100.10
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
YAML

# The admin credential, in a file only root can read and that goes when the script ends.
kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
chmod 0600 "$kubeconfig"
cat > "$kubeconfig" <<'KUBECONFIG'
apiVersion: v1
kind: Config
clusters:
  - name: k8s-dev
    cluster:
      server: https://127.0.0.1:6443
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClBMQUNFSE9MREVSLWt1YmVybmV0ZXMtY2EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
users:
  - name: k8s-dev-admin
    user:
      client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClBMQUNFSE9MREVSLWFkbWluCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
      client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClBMQUNFSE9MREVSLWFkbWluLWtleQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==
contexts:
  - name: k8s-dev
    context:
      cluster: k8s-dev
      user: k8s-dev-admin
current-context: k8s-dev
KUBECONFIG

# A Node of this name while this machine has never joined is what a replaced droplet left (dead,
# or its leave did not finish): delete it, so the new machine registers afresh and the old one's
# pods are cleaned up instead of being adopted.
delete_stale_node() { # the API server to ask, host:port
  local kc=(timeout 90 kubectl --kubeconfig "$kubeconfig" --server "https://$1" --request-timeout=20s)
  if "${kc[@]}" get node "$NODE_NAME" >/dev/null 2>&1; then
    "${kc[@]}" delete node "$NODE_NAME"
    echo "deleted the Node object $NODE_NAME left by the machine this one replaces"
  fi
}

etcd_keys() { # prefix; prints the keys under it, one a line
  local from to endpoint out
  from=$(printf '%s' "$1" | base64 -w0)
  to=$(printf '%s' "${1%/}0" | base64 -w0)
  for endpoint in ${ETCD_ENDPOINTS//,/ }; do
    if out=$(curl -fsS --max-time 5 --cacert "$PKI/etcd/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
      --key "$PKI/apiserver-etcd-client.key" -X POST "$endpoint/v3/kv/range" \
      -d "{\"key\":\"$from\",\"range_end\":\"$to\",\"keys_only\":true}" 2>/dev/null); then
      jq -r '.kvs[]?.key' <<<"$out" | while read -r key; do base64 -d <<<"$key"; echo; done
      return 0
    fi
  done
  echo "no etcd endpoint answered ($ETCD_ENDPOINTS): cannot tell whether the cluster exists" >&2
  exit 1
}

cluster_exists() {
  # kube-apiserver keeps every object in etcd: the kube-system namespace exists once init ran.
  local keys
  keys=$(etcd_keys /registry/namespaces/) || exit 1
  grep -qx /registry/namespaces/kube-system <<<"$keys"
}

live_api_servers() {
  # Every running API server keeps a lease under /registry/masterleases/ (the "kubernetes"
  # service's endpoints): the live ones, whatever the inventory says.
  local keys
  keys=$(etcd_keys /registry/masterleases/) || exit 1
  sed -n 's#^/registry/masterleases/##p' <<<"$keys" | grep -vx "$NODE_IP" || true
}

reachable_peer() { # prints the first live API server that answers, waiting up to $1 seconds
  local deadline=$((SECONDS + $1)) peer
  while :; do
    for peer in $(live_api_servers); do
      if curl -ksf --max-time 3 "https://$peer:6443/livez" >/dev/null 2>&1; then
        echo "$peer:6443"
        return 0
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 3
  done
}

if [ -f /etc/kubernetes/kubelet.conf ] && [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
  echo "$NODE_NAME is already a control-plane node"
elif [ "$MAY_INIT" = true ] && { ! cluster_exists || ! reachable_peer 0 >/dev/null; }; then
  echo "creating the cluster on $NODE_NAME (kubeadm init)"
  kubeadm init --config "$KUBEADM_DIR/init.yaml" --skip-token-print
else
  if ! API_SERVER_ENDPOINT=$(reachable_peer 300); then
    echo "no other API server is live (none under /registry/masterleases in etcd answers /livez). Look: 'crictl ps' and 'journalctl -u kubelet' on the control-plane nodes" >&2
    exit 1
  fi
  delete_stale_node "$API_SERVER_ENDPOINT"
  echo "joining $NODE_NAME as a control-plane node through $API_SERVER_ENDPOINT"
  cat > "$KUBEADM_DIR/join.yaml" <<YAML
# do-k8s-ha: kubeadm JoinConfiguration of node1.
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: ${API_SERVER_ENDPOINT}
    token: abcdef.0123456789abcdef
    # The program owns the cluster CA, so the hash is known before the cluster exists.
    caCertHashes:
      - sha256:0000000000000000000000000000000000000000000000000000000000000000
nodeRegistration:
  name: node1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.240.0.2

controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.240.0.2
    bindPort: 6443
YAML
  kubeadm join --config "$KUBEADM_DIR/join.yaml"
fi

# A control-plane kubelet talks to its own API server, not to the peer it joined through.
if ! grep -q 'server: https://127.0.0.1:6443$' /etc/kubernetes/kubelet.conf; then
  sed -i 's#server: https://.*#server: https://127.0.0.1:6443#' /etc/kubernetes/kubelet.conf
  systemctl restart kubelet
fi

# The program's bootstrap token lets nodes join at any later time; any control-plane node restores it.
export KUBECONFIG=/etc/kubernetes/admin.conf
token_id=${BOOTSTRAP_TOKEN%%.*}
if ! kubeadm token list 2>/dev/null | grep -q "^${token_id}\."; then
  kubeadm token create "$BOOTSTRAP_TOKEN" --ttl 0 --description "do-k8s-ha node joins" >/dev/null 2>&1 \
    || kubeadm token list 2>/dev/null | grep -q "^${token_id}\." \
    || { echo "could not create the bootstrap token: kubeadm token list shows the state" >&2; exit 1; }
fi
echo "$NODE_NAME is a control-plane node"
