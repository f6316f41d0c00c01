from odoo import api, models, tools

# What each kind's webhook reads of its provider: checked on every request, so cached.
WEBHOOK_FIELDS = {
    "brevo": ("webhook_token", "webhook_username", "webhook_password"),
    "mandrill": ("webhook_key", "webhook_url"),
}
# A write to any of these changes which requests a webhook accepts.
WEBHOOK_CACHE_FIELDS = {"active", "kind"}.union(*WEBHOOK_FIELDS.values())


class EmailAutomationProvider(models.Model):
    _inherit = "email.automation.provider"

    @api.model
    def _webhook_settings(self, provider_id, kind):
        """The webhook secrets of the active provider `provider_id` of that `kind`, as a
        {field: value} dict, or None if there is none. Cached per process: providers post
        an event per request, and this lookup was a query each time."""
        settings = self._webhook_settings_cached(provider_id, kind)
        return dict(settings) if settings is not None else None

    @api.model
    @tools.ormcache("provider_id", "kind")
    def _webhook_settings_cached(self, provider_id, kind):
        # Plain values only (an immutable tuple of pairs): the cache outlives the transaction.
        # sudo: the webhook routes are public; the secrets are system-only fields.
        provider = (
            self.sudo()
            .with_context(active_test=True)
            .search_fetch([("id", "=", provider_id), ("kind", "=", kind)], WEBHOOK_FIELDS[kind])
        )
        if not provider:
            return None
        return tuple((name, provider[name]) for name in WEBHOOK_FIELDS[kind])

    def _clear_webhook_cache(self):
        self.env.registry.clear_cache()
        # Again once committed: a concurrent request may have cached the old values meanwhile.
        self.env.cr.postcommit.add(self.env.registry.clear_cache)

    @api.model_create_multi
    def create(self, vals_list):
        providers = super().create(vals_list)
        # An id may have been cached as unknown before it existed.
        self._clear_webhook_cache()
        return providers

    def write(self, vals):
        result = super().write(vals)
        if WEBHOOK_CACHE_FIELDS.intersection(vals):
            self._clear_webhook_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self._clear_webhook_cache()
        return result
