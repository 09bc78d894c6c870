#!/bin/bash
# A GPG-signed commit pulls when its key is trusted (--gpg-keyring) and is refused when it is not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ostree_lib.sh"
need_tool gpg
need_tool gpgconf
cd "$WORK"
export GNUPGHOME="$WORK/gnupg"
mkdir -m 0700 "$GNUPGHOME"
trap 'gpgconf --kill all >/dev/null 2>&1; rm -rf "$WORK"' EXIT
gpg --batch --passphrase '' --quick-gen-key 'imgctl test <test@example.com>' ed25519 sign never 2>/dev/null
key=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg --export "$key" > trusted.gpg
gpg --batch --passphrase '' --quick-gen-key 'other <other@example.com>' ed25519 sign never 2>/dev/null
other=$(gpg --list-keys --with-colons other@example.com 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg --export "$other" > other.gpg
make_os_tree src
ostree init --repo=repo --mode=archive
ostree commit --repo=repo -b os/signed --gpg-sign="$key" --gpg-homedir="$GNUPGHOME" src >/dev/null
signed() { ostree show --repo=repo --gpg-homedir="$GNUPGHOME" os/signed 2>&1 | grep -q "Found 1 signature"; }
check "the commit is signed" signed
"$IMGCTL" init --repo store --verity optional >/dev/null || { fail "imgctl init"; finish; exit 1; }
url="file://$WORK/repo"
"$IMGCTL" pull-ostree --repo store "ostree:$url:os/signed" >out 2>err
check "no trusted key: exit 1" [ $? -eq 1 ]
check "no trusted key: names the problem ($(head -c 200 err))" grep -qi "public key\|signature\|GPG" err
"$IMGCTL" pull-ostree --repo store --gpg-keyring other.gpg "ostree:$url:os/signed" >out 2>err
check "wrong key trusted: exit 1" [ $? -eq 1 ]
check "wrong key: nothing stored" [ -z "$(ls store/refs store/images | grep -v :)" ]
digest=$("$IMGCTL" pull-ostree --repo store --gpg-keyring trusted.gpg "ostree:$url:os/signed" 2>err)
check "trusted key: import succeeds ($(head -c 300 err))" [ ${#digest} -eq 64 ]
check "trusted key: ref set" [ -n "$(find store/refs -type f)" ]
"$IMGCTL" pull-ostree --repo store --gpg-keyring trusted.gpg "ostree:$WORK/repo:os/signed" >/dev/null 2>err
check "--gpg-keyring with a local path is a usage error" [ $? -eq 2 ]
finish
