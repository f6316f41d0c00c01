-- a copy of a production database must not e-mail real customers: pause every scenario
UPDATE email_automation_scenario
   SET state = 'paused'
 WHERE state = 'running';

-- nor through a provider's API: pause them, and forget their credentials
UPDATE email_automation_provider
   SET state = 'paused', api_key = NULL
 WHERE kind != 'smtp';
