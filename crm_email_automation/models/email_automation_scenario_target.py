from odoo import api, models
from odoo.exceptions import ValidationError


class EmailAutomationScenario(models.Model):
    """The target model a manager may pick.

    Managers read the models with a chatter and their fields (see
    security/email_automation_metadata_security.xml); of these, a scenario they write may
    only target a model they can read, so that nobody builds a scenario on records they
    cannot see. The picker's domain is enforced here too, for clients that skip the form.
    """

    # One concern per file: the target-model checks live apart from the policy fields.
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    @api.constrains("model_id")
    def _check_model_readable(self):
        if self.env.su:
            return
        Access = self.env["ir.model.access"]
        for scenario in self:
            # sudo: the user may be refused the model's metadata; its name goes in the message.
            model = scenario.model_id.sudo()
            if model.transient or not model.is_mail_thread:
                raise ValidationError(
                    self.env._("Target Model: %(model)s records cannot be the target of a scenario.", model=model.name)
                )
            if not Access.check(model.model, "read", raise_exception=False):
                raise ValidationError(
                    self.env._(
                        "Target Model: you cannot read %(model)s records, so a scenario of yours cannot run on them.",
                        model=model.name,
                    )
                )

    @api.constrains("model_id", "trigger_field_id", "trigger_field_ids", "date_field_id", "recipient_field_id")
    def _check_fields_readable(self):
        """The trigger, date and recipient fields must be fields the author may read: a
        scenario must not reveal (by whom it enrols or mails) a field hidden from them."""
        if self.env.su:
            return
        for scenario in self:
            if scenario.model_name not in self.env:
                continue
            Model = self.env[scenario.model_name]
            # sudo: the chosen fields' names, whether or not the user may read their metadata.
            chosen = (
                scenario.trigger_field_id
                | scenario.trigger_field_ids
                | scenario.date_field_id
                | scenario.recipient_field_id
            ).sudo()
            for field in chosen:
                model_field = Model._fields.get(field.name)
                if model_field and not model_field.is_accessible(self.env):
                    raise ValidationError(
                        self.env._(
                            "Field “%(field)s”: you may not read it, so a scenario of yours cannot use it.",
                            field=field.field_description,
                        )
                    )
