#!/usr/bin/env bash
# Points this node's API server at the etcd members of the inventory after etcd nodes were
# added, removed or replaced, gives it the flags the program manages after creation (the audit
# log's rotation), and a serving certificate naming every address the API is reached at. kubeadm keeps both in two places: the API server's static pod manifest
# (the kubelet restarts the API server when it changes) and the cluster's stored
# ClusterConfiguration (what later joins and `kubeadm upgrade` render manifests from; kubeadm's
# "Reconfiguring a kubeadm cluster"). The program runs this on one control-plane node at a time,
# and each waits until its API server is back and ready, so the others serve meanwhile. With
# nothing to change it changes nothing.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
ETCD_ENDPOINTS={{ETCD_ENDPOINTS}}
MANIFEST={{MANIFEST}}
WAIT_SECONDS={{WAIT_SECONDS}}
# name=value, one per line: each an apiServer.extraArgs entry kubeadm rendered as --name=value.
FLAGS={{FLAGS}}
# apiServer.certSANs: the addresses the API is reached at beside the node's own (the API endpoint).
CERT_SANS={{CERT_SANS}}
NODE_IP={{NODE_IP}}
PKI={{PKI}}
# Where the manifest waits while the kubelet stops the API server (outside its static pod path).
PARKED=/etc/kubernetes/kube-apiserver.yaml.restarting
export KUBECONFIG=/etc/kubernetes/admin.conf

# A run stopped while the API server was being restarted left its manifest parked: put it back.
if [ -f "$PARKED" ] && [ ! -f "$MANIFEST" ]; then
  mv "$PARKED" "$MANIFEST"
fi

with_endpoints() { # a ClusterConfiguration on stdin, printed with etcd.external.endpoints set
  awk -v list="$ETCD_ENDPOINTS" '
    function lead(s) { match(s, /^ */); return RLENGTH }
    skipping {
      if (substr($0, lead($0) + 1, 2) == "- " && lead($0) >= indent && lead($0) <= indent + 2) next
      skipping = 0
    }
    /^[^ #]/ { etcd = ($0 ~ /^etcd:/); external = 0 }
    etcd && /^ +external:/ { external = 1 }
    etcd && external && /^ +endpoints: *$/ {
      print; indent = lead($0); pad = substr($0, 1, indent)
      n = split(list, urls, ",")
      for (i = 1; i <= n; i++) print pad "- " urls[i]
      skipping = 1; found = 1; next
    }
    { print }
    END { if (!found) { print "no etcd.external.endpoints in the ClusterConfiguration" > "/dev/stderr"; exit 1 } }'
}

# A ClusterConfiguration on stdin, printed with each of FLAGS as an apiServer.extraArgs entry (v1beta4:
# a list of name/value pairs): an entry's value is set, and a flag it lacks (one a newer release
# manages) is added under extraArgs, made if the section has none.
with_extra_args() {
  awk -v flags="$FLAGS" '
    function lead(s) { match(s, /^ */); return RLENGTH }
    function add(pad,   i) { for (i = 1; i <= count; i++) if (!(order[i] in have)) printf "%s- name: %s\n%s  value: \"%s\"\n", pad, order[i], pad, want[order[i]] }
    BEGIN { n = split(flags, lines, "\n"); for (i = 1; i <= n; i++) { eq = index(lines[i], "="); if (eq) { k = substr(lines[i], 1, eq - 1); want[k] = substr(lines[i], eq + 1); order[++count] = k } } }
    { line[NR] = $0 }
    END {
      # First the apiServer section: where it ends, its extraArgs key, and the flags it names.
      for (i = 1; i <= NR; i++) {
        s = line[i]
        if (s ~ /^[^ #]/) { if (api && !stop) stop = i; api = (s ~ /^apiServer:/); if (api) found = 1 }
        if (api && s ~ /^ +extraArgs: *$/) { key = i; pad = substr(s, 1, lead(s)) }
        if (api && key && s ~ /^ *- name: /) { nm = s; sub(/^ *- name: */, "", nm); gsub(/"/, "", nm); have[nm] = 1; if (item == "") item = substr(s, 1, lead(s)) }
      }
      if (!found) { print "no apiServer in the ClusterConfiguration" > "/dev/stderr"; exit 1 }
      if (api && !stop) stop = NR + 1
      if (item == "") item = key ? pad : "  "
      for (i = 1; i <= count; i++) if (!(order[i] in have)) missing++
      for (i = 1; i <= NR; i++) {
        s = line[i]
        if (i == stop && !key && missing) { print "  extraArgs:"; add("  ") }
        if (s ~ /^[^ #]/) api = (s ~ /^apiServer:/)
        split(s, f, " ")
        if (api && f[1] == "-" && f[2] == "name:" && (f[3] in want)) { name = f[3]; print s; continue }
        if (name != "" && f[1] == "value:") { sub(/value:.*/, "value: \"" want[name] "\"", s); print s; name = ""; continue }
        print s
        if (i == key) add(item)
      }
      if (stop == NR + 1 && !key && missing) { print "  extraArgs:"; add("  ") }
    }'
}

with_cert_sans() { # a ClusterConfiguration on stdin, printed with apiServer.certSANs set to CERT_SANS
  awk -v list="$CERT_SANS" '
    function lead(s) { match(s, /^ */); return RLENGTH }
    function sans(pad,   n, i, names) { n = split(list, names, " "); for (i = 1; i <= n; i++) print pad "- " names[i] }
    skipping {
      if (substr($0, lead($0) + 1, 2) == "- " && lead($0) >= indent && lead($0) <= indent + 2) next
      skipping = 0
    }
    /^[^ #]/ { if (api && !found) { print "  certSANs:"; sans("  "); found = 1 } api = ($0 ~ /^apiServer:/) }
    api && /^ +certSANs:/ { indent = lead($0); print substr($0, 1, indent) "certSANs:"; sans(substr($0, 1, indent)); skipping = 1; found = 1; next }
    { print }
    END { if (api && !found) { print "  certSANs:"; sans("  ") } }'
}

# Whether a certificate names every one of CERT_SANS (openssl x509 -checkip/-checkhost, as
# Kubespray checks apiserver.crt before it makes a new one).
covers() { # certificate file
  local san answer
  for san in $CERT_SANS; do
    if [[ $san =~ ^[0-9.]+$ ]]; then
      answer=$(openssl x509 -noout -in "$1" -checkip "$san" 2>/dev/null) || return 1
    else
      answer=$(openssl x509 -noout -in "$1" -checkhost "$san" 2>/dev/null) || return 1
    fi
    [[ $answer == *"does match certificate"* ]] || return 1
  done
}

# kubeadm makes apiserver.crt once, at init or join, for apiServer.certSANs as kubeadm-config had
# them then, and later runs keep one the CA signed only if it still covers the configured names
# (cmd/kubeadm/app/phases/certs/certs.go, writeCertificateFilesIfNotExist and
# validateCertificateWithConfig). A name it lacks (an endpoint with a new address) takes a new
# one as kubeadm's "Reconfiguring a kubeadm cluster" says: the old pair moved away, then
# `kubeadm init phase certs apiserver` with the cluster's configuration and this node's own
# name and address; the API server is restarted below to serve it.
new_certificate=false
if ! covers "$PKI/apiserver.crt"; then
  stored=$(timeout 60 kubectl --request-timeout=20s -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}')
  certs_config=$(mktemp /etc/kubernetes/apiserver-certs.XXXXXX.yaml)
  trap 'rm -f "$certs_config"' EXIT
  {
    with_cert_sans <<<"$stored"
    printf -- '---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: %s\nnodeRegistration:\n  name: %s\n' "$NODE_IP" "$NODE_NAME"
  } > "$certs_config"
  stamp=$(date +%Y%m%d%H%M%S)
  mv "$PKI/apiserver.crt" "$PKI/apiserver.crt.$stamp"
  mv "$PKI/apiserver.key" "$PKI/apiserver.key.$stamp"
  if ! kubeadm init phase certs apiserver --config "$certs_config" >&2; then
    mv "$PKI/apiserver.crt.$stamp" "$PKI/apiserver.crt"
    mv "$PKI/apiserver.key.$stamp" "$PKI/apiserver.key"
    echo "kubeadm could not make $NODE_NAME's API server certificate for $CERT_SANS; the old one is back" >&2
    exit 1
  fi
  new_certificate=true
  echo "$NODE_NAME's API server certificate now names $CERT_SANS (the old one is kept as apiserver.crt.$stamp)"
fi

# Each flag the manifest should carry: etcd's members, then FLAGS.
wanted_flags=("--etcd-servers=$ETCD_ENDPOINTS")
while IFS= read -r line; do
  [ -n "$line" ] && wanted_flags+=("--$line")
done <<<"$FLAGS"
changed=()
for flag in "${wanted_flags[@]}"; do
  name=${flag%%=*}
  if grep -q -- "^ *- $flag\$" "$MANIFEST"; then
    continue
  fi
  # sed -i renames a complete file into place: the kubelet never reads half of it.
  if grep -q -- "^ *- $name=" "$MANIFEST"; then
    sed -i "s#^\( *- \)$name=.*#\1$flag#" "$MANIFEST"
  else
    # A flag a newer release manages: added after the command, as the first argument.
    grep -q -- '^ *- kube-apiserver$' "$MANIFEST" || { echo "$MANIFEST has no kube-apiserver command to give $name" >&2; exit 1; }
    sed -i "/^ *- kube-apiserver\$/{p;s#^\( *- \)kube-apiserver\$#\1$flag#}" "$MANIFEST"
  fi
  changed+=("$flag")
done
if [ "${#changed[@]}" -eq 0 ]; then
  echo "$NODE_NAME's API server uses etcd at $ETCD_ENDPOINTS and its flags"
else
  echo "restarting $NODE_NAME's API server with ${changed[*]}"
fi
# This node's API server process, as `pgrep -a` prints it: the one kubeadm's manifest gives this
# node's own --advertise-address (one process per flag set, not any process that has the flag).
own_api_server() { pgrep -af -- "kube-apiserver .*--advertise-address=$NODE_IP( |\$)" || true; }

# A new certificate with an unchanged manifest: the kubelet restarts a static pod whose manifest
# goes and comes back (kubeadm's "Certificate Management with kubeadm": move it out of the static
# pod path, wait, move it back), so the API server starts again on the new pair.
if [ "$new_certificate" = true ] && [ "${#changed[@]}" -eq 0 ]; then
  mv "$MANIFEST" "$PARKED"
  deadline=$((SECONDS + WAIT_SECONDS))
  while [ -n "$(own_api_server)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      mv "$PARKED" "$MANIFEST"
      echo "$NODE_NAME's API server did not stop within ${WAIT_SECONDS}s of its manifest leaving $(dirname "$MANIFEST")" >&2
      exit 1
    fi
    sleep 1
  done
  mv "$PARKED" "$MANIFEST"
  echo "restarting $NODE_NAME's API server with its new certificate"
fi

serves_certificate() { # the certificate 127.0.0.1:6443 serves names every one of CERT_SANS
  local served
  served=$(mktemp)
  if timeout 10 openssl s_client -connect 127.0.0.1:{{API_SERVER_PORT}} </dev/null 2>/dev/null | openssl x509 > "$served" 2>/dev/null && covers "$served"; then
    rm -f "$served"
    return 0
  fi
  rm -f "$served"
  return 1
}

# 127.0.0.1:6443 is this node's own API server (it listens on every address; the local proxy
# to all of them is 6444).
running() { # this node's API server runs with every one of wanted_flags
  local line flag
  line=$(own_api_server | tr '\n' ' ')
  [ -n "$line" ] || return 1
  for flag in "${wanted_flags[@]}"; do
    [[ " $line " == *" $flag "* ]] || return 1
  done
}
deadline=$((SECONDS + WAIT_SECONDS))
until running && curl -ksf --max-time 3 https://127.0.0.1:{{API_SERVER_PORT}}/readyz >/dev/null 2>&1 && { [ "$new_certificate" = false ] || serves_certificate; }; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$NODE_NAME's API server did not come back ready with ${wanted_flags[*]} within ${WAIT_SECONDS}s. Look: 'crictl ps -a --name kube-apiserver', 'crictl logs <id>'" >&2
    exit 1
  fi
  sleep 3
done

# The stored ClusterConfiguration too, or the next join or upgrade would bring the old list back.
config=$(timeout 60 kubectl --request-timeout=20s -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}')
wanted=$(with_endpoints <<<"$config" | with_extra_args | with_cert_sans)
if [ "$config" != "$wanted" ]; then
  timeout 60 kubectl --request-timeout=20s -n kube-system patch configmap kubeadm-config --type merge \
    -p "$(jq -n --arg config "$wanted" '{data: {ClusterConfiguration: $config}}')" >/dev/null
  echo "kubeadm-config now names etcd at $ETCD_ENDPOINTS, the same flags and the certificate names $CERT_SANS"
fi
