# Part of recurring payments for Odoo. License LGPL-3.
import base64
import binascii

from odoo import _, fields, models
from odoo.exceptions import UserError


class RecurringSepaReturnImport(models.TransientModel):
    _name = "recurring.sepa.return.import"
    _description = "Import a SEPA Bank Return"

    file = fields.Binary(
        string="Bank File",
        required=True,
        help="A pain.002 payment status report or a camt.054 debit notification from the "
        "bank, about direct debits this company sent.",
    )
    file_name = fields.Char()

    # === ACTION METHODS === #

    def action_import(self):
        """Import the file, all or nothing, and open the bank return it created.

        :return: the action opening the created `recurring.sepa.return`.
        :raise UserError: the file is empty, not a bank return, already imported, or a
            line of it cannot be applied (nothing is then kept).
        """
        self.ensure_one()
        try:
            data = base64.b64decode(self.file or b"", validate=True)
        except (binascii.Error, ValueError) as error:
            raise UserError(_("The file could not be read: upload it again.")) from error
        bank_return = self.env["recurring.sepa.return"]._recurring_import_file(
            data, self.file_name or False
        )
        return bank_return._get_records_action(name=_("Bank Return"))
