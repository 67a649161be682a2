#!/bin/sh
# Recomputes every golden signature with openssl, independently of the Go
# code on either side (emulators and clients must both agree with these).
# Run from this directory: sh gen.sh ; then git diff shows any change.
set -eu

# Whiplash: X-WHIPLASH-SIGNATURE = lowercase hex HMAC-SHA256 of the raw body,
# keyed with the OAuth client secret (Whiplash's gem, signing.rb).
for f in whiplash/*.json; do
	openssl dgst -sha256 -hmac whiplash-app-secret -hex <"$f" | awk '{print $NF}' >"${f%.json}.sig"
done

# Shopify webhooks: X-Shopify-Hmac-Sha256 = base64 of the binary HMAC-SHA256
# of the raw body, keyed with the app's client secret.
for f in shopify/*.json; do
	openssl dgst -sha256 -hmac shopify-app-secret -binary <"$f" | base64 >"${f%.json}.hmac"
done

# Shopify OAuth queries: hmac = hex HMAC-SHA256 of the canonical message
# (*.message, written by hand from the documented rule, see README.md).
openssl dgst -sha256 -hmac shopify-app-secret -hex <shopify/oauth_callback.message | awk '{print $NF}' >shopify/oauth_callback.hmac
openssl dgst -sha256 -hmac shopify-app-secret -hex <shopify/escaping.message | awk '{print $NF}' >shopify/escaping.hmac
# Shopify's own published example uses the secret "hush".
openssl dgst -sha256 -hmac hush -hex <shopify/docs_example.message | awk '{print $NF}' >shopify/docs_example.hmac

# The queries as they arrive on the wire (percent-encoded, any order, with
# the hmac; escaping.query also carries a signature parameter to drop).
printf '%s' "code=0907a61c0c8d55e99db179b68161bc00&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ&shop=demo-store.myshopify.com&state=nonce-4f2a&timestamp=1777636800&hmac=$(cat shopify/oauth_callback.hmac)" >shopify/oauth_callback.query
printf '%s' "x%3Dy%26z=1&timestamp=1777636800&ids%5B%5D=1&state=a%26b%25c%3Dd&signature=0123abcd&ids%5B%5D=2&shop=demo-store.myshopify.com&hmac=$(cat shopify/escaping.hmac)" >shopify/escaping.query
printf '%s' "hmac=$(cat shopify/docs_example.hmac)&shop=some-shop.myshopify.com&code=0907a61c0c8d55e99db179b68161bc00&timestamp=1337178173&state=0.6784241404160823" >shopify/docs_example.query
