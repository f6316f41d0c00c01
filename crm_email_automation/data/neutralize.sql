-- a copy of a production database must not e-mail real customers: pause every scenario
UPDATE email_automation_scenario
   SET state = 'paused'
 WHERE state = 'running';

-- nor through a provider's API: pause them, and forget their credentials
UPDATE email_automation_provider
   SET state = 'paused', api_key = NULL
 WHERE kind != 'smtp';

-- nor keep a real Mailchimp audience in step: stop the sync, forget the key and token
UPDATE res_company
   SET email_automation_mailchimp_enabled = false,
       email_automation_mailchimp_api_key = NULL,
       email_automation_mailchimp_oauth_token = NULL;
