from odoo import api, fields, models
from odoo.exceptions import ValidationError

# How many variants a step may test at once.
MAX_VARIANTS = 5


class EmailAutomationVariant(models.Model):
    """An A/B variant of a mail step: its own template or subject, sent to a share of the
    participants (assigned at random, once per participant).

    The subject is an inline template rendered like a mail template's (Odoo's render mixin):
    only template editors may put code in it, as in a mail template.
    """

    _name = "email.automation.variant"
    _description = "E-mail Automation A/B Variant"
    # The code mixin gives each variant a stable key in scenario documents (YAML).
    _inherit = ["mail.render.mixin", "email.automation.code.mixin"]
    _order = "step_id, sequence, id"
    _check_company_auto = True
    # Rendered as a template: the mixin checks on write that a dynamic subject was written
    # by a template editor, as mail.template does.
    _unrestricted_rendering = True

    step_id = fields.Many2one("email.automation.step", required=True, ondelete="cascade", index=True)
    code = fields.Char(copy=False, index=True, help="The variant's stable key in exported scenario files (YAML).")
    # A variant removed by a scenario document after it was sent is archived, as a step is:
    # its traces keep naming it.
    active = fields.Boolean(default=True)
    scenario_id = fields.Many2one(related="step_id.scenario_id", store=True, index=True)
    company_id = fields.Many2one(related="step_id.company_id", store=True)
    model_name = fields.Char(related="step_id.model_name", string="Model Name")
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, help="How the results name this variant, e.g. “A: short subject”.")
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        ondelete="restrict",
        domain="[('model', '=', model_name)]",
        help="Leave empty to send the step's template.",
    )
    subject = fields.Char(
        translate=True,
        help="Leave empty to keep the template's subject. Placeholders work as in a template, e.g. {{ object.name }}.",
    )
    share = fields.Integer(
        string="Share (%)", default=50, help="The percentage of participants who receive this variant."
    )
    is_winner = fields.Boolean(
        string="Winner", readonly=True, copy=False, help="Chosen by the automatic winner: everyone else gets it."
    )

    # Figures of the real e-mails sent (test e-mails left out); rates are percentages.
    sent_count = fields.Integer(string="Sent", compute="_compute_figures")
    delivered_count = fields.Integer(string="Delivered", compute="_compute_figures")
    opened_count = fields.Integer(string="Opened", compute="_compute_figures", help="Opened by people.")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_figures")
    conversion_count = fields.Integer(
        string="Conversions", compute="_compute_figures", help="Recipients of this variant who reached the goal."
    )
    open_rate = fields.Float(string="Open Rate (%)", compute="_compute_figures", digits=(16, 1))
    click_rate = fields.Float(string="Click Rate (%)", compute="_compute_figures", digits=(16, 1))
    conversion_rate = fields.Float(string="Conversion Rate (%)", compute="_compute_figures", digits=(16, 1))
    p_value = fields.Float(
        string="p-value",
        compute="_compute_figures",
        digits=(16, 4),
        help="Two-proportion z-test on the step's winning metric: the leader against the runner-up, "
        "the others against the leader. Empty until there is enough data.",
    )
    test_result = fields.Char(string="Test", compute="_compute_figures")

    def _compute_render_model(self):
        for variant in self:
            variant.render_model = variant.step_id.model_name

    def _compute_figures(self):
        results = self.step_id._ab_results()
        for variant in self:
            figures = results.get(variant.id) or {}
            variant.sent_count = figures.get("sent", 0)
            variant.delivered_count = figures.get("delivered", 0)
            variant.opened_count = figures.get("opened", 0)
            variant.clicked_count = figures.get("clicked", 0)
            variant.conversion_count = figures.get("conversions", 0)
            variant.open_rate = figures.get("open_rate", 0.0)
            variant.click_rate = figures.get("click_rate", 0.0)
            variant.conversion_rate = figures.get("conversion_rate", 0.0)
            variant.p_value = figures.get("p_value") or 0.0
            variant.test_result = figures.get("test_result", False)

    _sql_constraints = [("step_code_uniq", "unique(step_id, code)", "Each variant code must be unique in its step.")]

    @api.model_create_multi
    def create(self, vals_list):
        variants = super().create(vals_list)
        # A variant changes what its step sends: the same right as changing the step.
        variants.step_id.scenario_id._check_may_change()
        return variants

    def write(self, vals):
        self.step_id.scenario_id._check_may_change()
        return super().write(vals)

    def unlink(self):
        steps = self.step_id
        steps.scenario_id._check_may_change()
        result = super().unlink()
        if not self.env.context.get("email_automation_defer_share_check"):
            steps.exists()._check_variant_shares()
        return result

    @api.constrains("share", "step_id")
    def _check_share(self):
        for variant in self:
            if not 1 <= variant.share <= 100:
                raise ValidationError(
                    self.env._("Share: variant “%(name)s” must get between 1 and 100%%.", name=variant.name)
                )
        # Editing the variants from the step form checks their sum once, after all edits.
        if not self.env.context.get("email_automation_defer_share_check"):
            self.step_id._check_variant_shares()

    @api.constrains("mail_template_id", "step_id")
    def _check_template_model(self):
        for variant in self.filtered("mail_template_id"):
            if variant.mail_template_id.model != variant.step_id.model_name:
                raise ValidationError(
                    self.env._(
                        "E-mail Template: variant “%(name)s” uses “%(template)s”, made for %(template_model)s "
                        "records, but its step runs on %(model)s records.",
                        name=variant.name,
                        template=variant.mail_template_id.name,
                        template_model=variant.mail_template_id.model,
                        model=variant.step_id.model_name,
                    )
                )
