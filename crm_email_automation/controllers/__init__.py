from . import main
from . import mailchimp_webhook
