#!/usr/bin/env bash
# Rotates the Azure OpenAI API key that the function app reads from Key Vault, without a failed request.
#
# An Azure OpenAI account has two valid keys, key1 and key2. The vault holds one of them. This script:
#   1. finds which key the vault holds (by comparing values; no value is ever printed),
#   2. regenerates the OTHER key, which nothing uses,
#   3. stores that new key as a new version of the vault secret,
#   4. waits until every app instance has re-read the secret (its in-memory copy lives at most
#      KeyCache__TimeToLive, 5 minutes by default; an instance that gets a 401 re-reads at once),
#   5. checks the vault still holds the new key, then regenerates the key the vault held before.
# The app is never restarted: it reads the secret's latest version when its cached copy expires.
#
# Needs: Azure CLI (az), signed in with az login, and on the account "Cognitive Services Contributor"
# (list and regenerate keys), on the secret "Key Vault Secrets Officer" (read and set it), and with
# --function-app "Website Contributor" on the app (to read its KeyCache__TimeToLive setting).
# See infra/README.md, "Rotating the Azure OpenAI key".

set -euo pipefail

readonly DEFAULT_SECRET_NAME="azure-openai-api-key"
# The app's default KeyCache__TimeToLive (00:05:00), used when the setting is absent.
readonly DEFAULT_TIME_TO_LIVE_SECONDS=300
# Added to the time to live: requests in flight, instances starting while the secret changes, clock skew.
readonly MARGIN_SECONDS=120

resource_group="${AZURE_RESOURCE_GROUP:-}"
account_name="${AZURE_OPENAI_NAME:-}"
vault_name="${AZURE_KEY_VAULT_NAME:-}"
function_app_name="${AZURE_FUNCTION_APP_NAME:-}"
secret_name="${DEFAULT_SECRET_NAME}"
wait_seconds=""

usage() {
  cat <<EOF
Usage: $(basename "$0") [options]

Rotates the Azure OpenAI key held in Key Vault with no failed request (see infra/README.md).

Options (defaults come from the azd environment variables in brackets):
  --resource-group NAME   resource group of the Azure OpenAI account  [AZURE_RESOURCE_GROUP]
  --openai-name NAME      Azure OpenAI account name                   [AZURE_OPENAI_NAME]
  --vault-name NAME       Key Vault name                              [AZURE_KEY_VAULT_NAME]
  --function-app NAME     function app, to read its KeyCache__TimeToLive  [AZURE_FUNCTION_APP_NAME]
  --secret-name NAME      secret holding the key (default: ${DEFAULT_SECRET_NAME})
  --wait-seconds N        wait between storing the new key and retiring the old one; at least the
                          app's KeyCache__TimeToLive (default: that time to live + ${MARGIN_SECONDS} s,
                          which is $((DEFAULT_TIME_TO_LIVE_SECONDS + MARGIN_SECONDS)) s when the setting is absent)
  -h, --help              show this help

Load the azd values first, for example:  set -a; eval "\$(azd env get-values)"; set +a
EOF
}

fail() {
  echo "error: $*" >&2
  exit 1
}

log() {
  echo "[$(date -u +%H:%M:%SZ)] $*"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --resource-group) resource_group="${2:?--resource-group needs a value}"; shift 2 ;;
    --openai-name) account_name="${2:?--openai-name needs a value}"; shift 2 ;;
    --vault-name) vault_name="${2:?--vault-name needs a value}"; shift 2 ;;
    --function-app) function_app_name="${2:?--function-app needs a value}"; shift 2 ;;
    --secret-name) secret_name="${2:?--secret-name needs a value}"; shift 2 ;;
    --wait-seconds) wait_seconds="${2:?--wait-seconds needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option: $1" ;;
  esac
done

[[ -n "${resource_group}" ]] || fail "no resource group: pass --resource-group or set AZURE_RESOURCE_GROUP"
[[ -n "${account_name}" ]] ||
  fail "no Azure OpenAI account: pass --openai-name or set AZURE_OPENAI_NAME (azd leaves it empty for an existing endpoint)"
[[ -n "${vault_name}" ]] || fail "no vault: pass --vault-name or set AZURE_KEY_VAULT_NAME"
[[ -z "${wait_seconds}" || "${wait_seconds}" =~ ^[0-9]+$ ]] ||
  fail "--wait-seconds must be a whole number of seconds"
command -v az >/dev/null || fail "the Azure CLI (az) is not installed"
az account show --only-show-errors --output none || fail "not signed in: run az login"

# How long an instance may keep the old key: the app's KeyCache__TimeToLive (a TimeSpan, [d.]hh:mm:ss). The
# app settings hold no secret, so reading them is safe.
time_to_live_seconds="${DEFAULT_TIME_TO_LIVE_SECONDS}"
if [[ -n "${function_app_name}" ]]; then
  time_to_live="$(az functionapp config appsettings list --resource-group "${resource_group}" --name "${function_app_name}" \
    --query "[?name=='KeyCache__TimeToLive'].value | [0]" --output tsv --only-show-errors)"
  if [[ -n "${time_to_live}" ]]; then
    [[ "${time_to_live}" =~ ^(([0-9]+)\.)?([0-9]{1,2}):([0-9]{2}):([0-9]{2})$ ]] ||
      fail "cannot read KeyCache__TimeToLive '${time_to_live}' of ${function_app_name} (expected [d.]hh:mm:ss)"
    time_to_live_seconds=$((10#${BASH_REMATCH[2]:-0} * 86400 + 10#${BASH_REMATCH[3]} * 3600 +
      10#${BASH_REMATCH[4]} * 60 + 10#${BASH_REMATCH[5]}))
  fi
else
  log "No function app given: assuming the default KeyCache__TimeToLive of ${DEFAULT_TIME_TO_LIVE_SECONDS} s"
fi

if [[ -z "${wait_seconds}" ]]; then
  wait_seconds=$((time_to_live_seconds + MARGIN_SECONDS))
elif ((wait_seconds < time_to_live_seconds)); then
  fail "--wait-seconds ${wait_seconds} is shorter than KeyCache__TimeToLive (${time_to_live_seconds} s):" \
    "instances could still be using the key that would be regenerated"
fi

# Key values live only in these shell variables and in a private temporary file; none is echoed or passed as an
# argument (arguments are visible to other users in the process list).
umask 077
value_file="$(mktemp)"
cleanup() {
  rm -f "${value_file}"
  unset vault_value key1 key2 new_key
}
trap cleanup EXIT

read_vault_value() {
  az keyvault secret show --vault-name "${vault_name}" --name "${secret_name}" \
    --query value --output tsv --only-show-errors
}

read_account_key() {
  az cognitiveservices account keys list --resource-group "${resource_group}" --name "${account_name}" \
    --query "$1" --output tsv --only-show-errors
}

local_auth_disabled="$(az cognitiveservices account show --resource-group "${resource_group}" --name "${account_name}" \
  --query properties.disableLocalAuth --output tsv --only-show-errors)"
if [[ "${local_auth_disabled}" == "true" ]]; then
  fail "${account_name} accepts no keys (keyless mode, disableLocalAuth=true): there is nothing to rotate"
fi

log "Comparing the vault secret ${vault_name}/${secret_name} with the keys of ${account_name}"
vault_value="$(read_vault_value)"
key1="$(read_account_key key1)"
key2="$(read_account_key key2)"

if [[ "${vault_value}" == "${key1}" ]]; then
  held="Key1"
  spare="Key2"
elif [[ "${vault_value}" == "${key2}" ]]; then
  held="Key2"
  spare="Key1"
else
  fail "the vault holds neither key1 nor key2 of ${account_name}, so the app is probably failing already." \
    "Store a current key first (infra/README.md, 'When it goes wrong'), then rotate"
fi
unset key1 key2
log "The vault holds ${held}; regenerating ${spare}, which nothing uses"

spare_query="$(tr '[:upper:]' '[:lower:]' <<<"${spare}")"
new_key="$(az cognitiveservices account keys regenerate --resource-group "${resource_group}" --name "${account_name}" \
  --key-name "${spare}" --query "${spare_query}" --output tsv --only-show-errors)"
[[ -n "${new_key}" ]] || fail "regenerating ${spare} returned no key"

printf '%s' "${new_key}" >"${value_file}"
az keyvault secret set --vault-name "${vault_name}" --name "${secret_name}" --file "${value_file}" \
  --encoding utf-8 --content-type text/plain --only-show-errors --output none
: >"${value_file}"

[[ "$(read_vault_value)" == "${new_key}" ]] ||
  fail "the vault did not return the value just stored; ${held} is untouched and still valid"
log "Stored ${spare} as a new version of ${secret_name}. Both keys are valid until ${held} is regenerated."

log "Waiting ${wait_seconds} s for every instance to re-read the secret"
remaining="${wait_seconds}"
while ((remaining > 0)); do
  step=$((remaining < 60 ? remaining : 60))
  sleep "${step}"
  remaining=$((remaining - step))
  ((remaining == 0)) || log "  ${remaining} s left"
done

# Someone may have redeployed meanwhile (azd provision writes key1 into the vault). Retiring a key the vault now
# holds would break the app, so look again first.
if [[ "$(read_vault_value)" != "${new_key}" ]]; then
  fail "the vault no longer holds the new ${spare} (a deployment or a person changed it)." \
    "${held} was NOT regenerated; run this script again"
fi

az cognitiveservices account keys regenerate --resource-group "${resource_group}" --name "${account_name}" \
  --key-name "${held}" --only-show-errors --output none
log "Regenerated ${held}: the key the app used before is now invalid. The vault holds ${spare}."
log "The next rotation regenerates ${held} first, then ${spare}."
