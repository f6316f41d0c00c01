"""What a scenario document (YAML) holds: its version, the fields of each model by technical
name, and the order of its sections. Read by the export, the reading and the apply."""

DOCUMENT_VERSION = 1

# What a document holds, per model: the key field, then the fields by technical name, in
# the order they are read (a field naming another field's values comes after it: the
# target model before its fields, the trigger field before its values). The way a value is
# written follows the field's type, so adding a field to the document is adding its name
# here; a new model of steps (one2many) is one more entry with its key.
DOCUMENT_SPEC = {
    "email.automation.scenario": (
        "code",
        [
            "name",
            "sequence",
            "color",
            "model_id",
            "category",
            "trigger",
            "trigger_field_id",
            "trigger_selection_ids",
            "trigger_value_ref",
            "trigger_value_domain",
            "trigger_field_ids",
            "date_field_id",
            "date_offset",
            "date_offset_unit",
            "date_offset_direction",
            "idle_delay",
            "idle_delay_unit",
            "outside_event_name",
            "domain",
            "goal_domain",
            "reentry_policy",
            "reentry_days",
            "holdout_percent",
            "recipient_field_id",
            "provider_id",
            "mail_server_id",
            "is_tracking_enabled",
            "is_test_mode",
            "test_email",
            "frequency_cap_mode",
            "frequency_cap_count",
            "frequency_cap_days",
            "frequency_cap_action",
            "step_ids",
        ],
    ),
    "email.automation.step": (
        "code",
        [
            "name",
            "sequence",
            "parent_id",
            "trigger_type",
            "trigger_window",
            "trigger_window_unit",
            "trigger_url",
            "trigger_domain",
            "delay",
            "delay_unit",
            "condition_domain",
            "payload_condition",
            "run_if_parent_skipped",
            "action_type",
            "mail_template_id",
            "activity_type_id",
            "activity_summary",
            "activity_note",
            "activity_deadline_days",
            "activity_user_field",
            "ab_metric",
            "ab_auto_winner",
            "ab_winner_after_hours",
            "ab_winner_after_count",
            "variant_ids",
        ],
    ),
    # Not is_winner: the winner is a result of the test, not configuration; a document that
    # set it would end a test in another database that has not run.
    "email.automation.variant": (
        "code",
        ["name", "sequence", "mail_template_id", "subject", "share"],
    ),
    "mail.template": (
        "email_automation_code",
        [
            "name",
            "description",
            "model_id",
            "subject",
            "email_from",
            "use_default_to",
            "email_to",
            "partner_to",
            "email_cc",
            "reply_to",
            "lang",
            "scheduled_date",
            "auto_delete",
            "email_layout_xmlid",
            "report_template_ids",
            "body_html",
        ],
    ),
}
# The document's lists of records, in the order they are applied (templates first: the
# steps name them).
SECTIONS = {"templates": "mail.template", "scenarios": "email.automation.scenario"}
OUTPUT_ORDER = ("scenarios", "templates")
# A many2many of selection values lists values of the field named in another field.
SELECTION_SCOPE = {"trigger_selection_ids": "trigger_field_id"}
# The model whose fields and values a record's fields name.
TARGET_MODEL_FIELD = {"email.automation.scenario": "model_id", "mail.template": "model_id"}


def inverse_field(env, parent_model, child_model):
    """The field of a child record (a step) that names its parent (its scenario)."""
    fields_ = env[parent_model]._fields
    return next(
        fields_[name].inverse_name
        for name in DOCUMENT_SPEC[parent_model][1]
        if fields_[name].type == "one2many" and fields_[name].comodel_name == child_model
    )
