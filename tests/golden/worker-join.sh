#!/usr/bin/env bash
# Joins this node as a worker through the local API-server proxy, so it depends on no particular
# control-plane node. Workers join in parallel.
set -euo pipefail

NODE_NAME='node3'
API_PROXY='127.0.0.1:6444'
KUBEADM_DIR=/etc/kubernetes/kubeadm

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$NODE_NAME has already joined"
  exit 0
fi

deadline=$((SECONDS + 300))
until curl -ksf --max-time 3 "https://$API_PROXY/livez" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no API server answers through the local proxy $API_PROXY. Look: 'systemctl status kube-apiserver-proxy' here" >&2
    exit 1
  fi
  sleep 3
done

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
      server: https://127.0.0.1:6444
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

delete_stale_node "$API_PROXY"

umask 077
install -d -m 0700 "$KUBEADM_DIR"
cat > "$KUBEADM_DIR/join.yaml" <<'YAML'
# do-k8s-ha: kubeadm JoinConfiguration of node3.
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 127.0.0.1:6444
    token: abcdef.0123456789abcdef
    # The program owns the cluster CA, so the hash is known before the cluster exists.
    caCertHashes:
      - sha256:0000000000000000000000000000000000000000000000000000000000000000
nodeRegistration:
  name: node3
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.240.0.4
YAML
kubeadm join --config "$KUBEADM_DIR/join.yaml"
echo "$NODE_NAME joined as a worker"
