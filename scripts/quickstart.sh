#!/usr/bin/env bash
# Installs what is missing, builds, provisions a partner on first run, and starts the
# server on the embedded default (SQLite + local disk) in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

data_dir="${AUDIODROP_DATA_DIR:-./data}"
listen="${AUDIODROP_LISTEN:-127.0.0.1:8080}"
export AUDIODROP_DATA_DIR="$data_dir" AUDIODROP_LISTEN="$listen"
mkdir -p "$data_dir"
credential="$data_dir/quickstart-partner.json"
if [ ! -s "$credential" ]; then
  build/bin/audiodrop-server partner create --name quickstart >"$credential"
  chmod 600 "$credential"
fi
client_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_id"])' "$credential")
secret_key=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$credential")
api="http://$listen/developer/api"

cat <<EOT

Partner credential (kept in $credential):
  client_id  = $client_id
  secret_key = $secret_key

Try it, in another terminal:
  PARTNER=\$(curl -s -X POST -u '$client_id:$secret_key' $api/oauth/partner/access-token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  USER_TOKEN=\$(curl -s -X POST -H "Authorization: Bearer \$PARTNER" -H 'Content-Type: application/json' \\
      -d '{"user_id":"user-0001"}' $api/open/partner/users/access-token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST -H "Authorization: Bearer \$USER_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"filesize": 10485760, "filetype": "mp3"}' $api/open/partner/files/upload/generate-presigned-urls
  (README.md walks through the whole upload.)

Starting the server (Ctrl-C stops it)...
EOT
exec build/bin/audiodrop-server serve
