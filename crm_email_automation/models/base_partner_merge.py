from odoo import models

from .email_automation_consent import keep_consent


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_values(self, src_partners, dst_partner):
        """Merging contacts copies the others' values into the kept one: not their consent,
        which changes only with a ledger entry. The kept contact keeps its own consent and
        receives the others' ledger entries (moved with the foreign keys)."""
        with keep_consent():
            return super()._update_values(src_partners, dst_partner)
