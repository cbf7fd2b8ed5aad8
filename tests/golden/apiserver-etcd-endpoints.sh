#!/usr/bin/env bash
# Points this node's API server at the etcd members of the inventory after etcd nodes were
# added, removed or replaced, and gives it the flags the program manages after creation (the
# audit log's rotation). kubeadm keeps both in two places: the API server's static pod manifest
# (the kubelet restarts the API server when it changes) and the cluster's stored
# ClusterConfiguration (what later joins and `kubeadm upgrade` render manifests from; kubeadm's
# "Reconfiguring a kubeadm cluster"). The program runs this on one control-plane node at a time,
# and each waits until its API server is back and ready, so the others serve meanwhile. With
# nothing to change it changes nothing.
set -euo pipefail

NODE_NAME='node1'
ETCD_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
MANIFEST='/etc/kubernetes/manifests/kube-apiserver.yaml'
WAIT_SECONDS=300
# name=value, one per line: each an apiServer.extraArgs entry kubeadm rendered as --name=value.
FLAGS=''
export KUBECONFIG=/etc/kubernetes/admin.conf

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

with_extra_args() { # a ClusterConfiguration on stdin, printed with each of FLAGS as apiServer.extraArgs' value
  awk -v flags="$FLAGS" '
    BEGIN { n = split(flags, lines, "\n"); for (i = 1; i <= n; i++) { eq = index(lines[i], "="); if (eq) want[substr(lines[i], 1, eq - 1)] = substr(lines[i], eq + 1) } }
    /^[^ #]/ { api = ($0 ~ /^apiServer:/) }
    api && $1 == "-" && $2 == "name:" && ($3 in want) { name = $3; print; next }
    name != "" && $1 == "value:" { sub(/value:.*/, "value: \"" want[name] "\""); print; seen[name] = 1; name = ""; next }
    { print }
    END { for (k in want) if (!(k in seen)) { print "no apiServer.extraArgs " k " in the ClusterConfiguration" > "/dev/stderr"; exit 1 } }'
}

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
  grep -q -- "^ *- $name=" "$MANIFEST" || { echo "$MANIFEST has no $name flag to set" >&2; exit 1; }
  # sed -i renames a complete file into place: the kubelet never reads half of it.
  sed -i "s#^\( *- \)$name=.*#\1$flag#" "$MANIFEST"
  changed+=("$flag")
done
if [ "${#changed[@]}" -eq 0 ]; then
  echo "$NODE_NAME's API server uses etcd at $ETCD_ENDPOINTS and its flags"
else
  echo "restarting $NODE_NAME's API server with ${changed[*]}"
fi

# 127.0.0.1:6443 is this node's own API server (it listens on every address; the local proxy
# to all of them is 6444).
running() {
  local flag
  for flag in "${wanted_flags[@]}"; do
    pgrep -f -- "kube-apiserver .*$flag( |\$)" >/dev/null || return 1
  done
}
deadline=$((SECONDS + WAIT_SECONDS))
until running && curl -ksf --max-time 3 https://127.0.0.1:6443/readyz >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$NODE_NAME's API server did not come back ready with ${wanted_flags[*]} within ${WAIT_SECONDS}s. Look: 'crictl ps -a --name kube-apiserver', 'crictl logs <id>'" >&2
    exit 1
  fi
  sleep 3
done

# The stored ClusterConfiguration too, or the next join or upgrade would bring the old list back.
config=$(timeout 60 kubectl --request-timeout=20s -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}')
wanted=$(with_endpoints <<<"$config" | with_extra_args)
if [ "$config" != "$wanted" ]; then
  timeout 60 kubectl --request-timeout=20s -n kube-system patch configmap kubeadm-config --type merge \
    -p "$(jq -n --arg config "$wanted" '{data: {ClusterConfiguration: $config}}')" >/dev/null
  echo "kubeadm-config now names etcd at $ETCD_ENDPOINTS and the same flags"
fi
