#!/bin/sh
# Regenerate recurring_payments/i18n/recurring_payments.pot from a database where the
# addon is installed, then merge it into every .po file of the addon with msgmerge.
#
#   tools/i18n_export.sh DATABASE [ODOO OPTIONS...]
#   tools/i18n_export.sh i18n_rp -c /path/to/odoo.conf
#
# Odoo runs as `$RP_PYTHON -m odoo` (python3 by default). No fuzzy matching: Odoo would
# load fuzzy guesses as real translations. New strings come out with an empty msgstr,
# strings gone from the addon are dropped; translate the former, then check with
#   msgfmt --check -o /dev/null recurring_payments/i18n/fr.po
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DATABASE [ODOO OPTIONS...]" >&2; exit 2; }
db=$1
shift
i18n=$(cd "$(dirname "$0")/../recurring_payments/i18n" && pwd)
pot=$i18n/recurring_payments.pot

"${RP_PYTHON:-python3}" -m odoo "$@" -d "$db" --modules=recurring_payments \
    --i18n-export="$pot" --stop-after-init
for po in "$i18n"/*.po; do
    [ -e "$po" ] || continue
    msgmerge --quiet --update --backup=none --no-fuzzy-matching "$po" "$pot"
    msgattrib --no-obsolete --output-file="$po" "$po"
    echo "$po: $(msgfmt --statistics -o /dev/null "$po" 2>&1)"
done
