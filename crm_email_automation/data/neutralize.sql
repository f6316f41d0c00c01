-- a copy of a production database must not e-mail real customers: pause every scenario
UPDATE email_automation_scenario
   SET state = 'paused'
 WHERE state = 'running';
