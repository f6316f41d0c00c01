from . import main
from . import mailchimp_webhook
from . import mailchimp_oauth
from . import webhooks
from . import gdpr
from . import tracking
from . import metrics
