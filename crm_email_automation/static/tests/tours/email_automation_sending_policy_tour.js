/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * A manager who is not an administrator opens the sending policy from the app's menu,
 * switches to opt-out and keeps the history for 12 months.
 */
registry.category("web_tour.tours").add("crm_email_automation_sending_policy_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps(
            "crm_email_automation.crm_email_automation_menu_root",
            "Open the E-mail Automation app"
        ),
        {
            content: "Open the Configuration menu",
            trigger: ".o_menu_sections button[data-menu-xmlid='crm_email_automation.email_automation_config_menu']",
            run: "click",
        },
        {
            content: "The menu shows the sending policy...",
            trigger: ".dropdown-item[data-menu-xmlid='crm_email_automation.email_automation_sending_policy_menu']",
        },
        {
            content: "... and no Settings entry the manager cannot open",
            trigger: "body:not(:has(.dropdown-item[data-menu-xmlid='crm_email_automation.email_automation_settings_menu']))",
        },
        {
            content: "Open the sending policy",
            trigger: ".dropdown-item[data-menu-xmlid='crm_email_automation.email_automation_sending_policy_menu']",
            run: "click",
        },
        {
            content: "Choose opt-out",
            trigger: ".modal .o_field_widget[name='consent_policy'] input[data-value='opt_out']",
            run: "click",
        },
        {
            content: "Keep the history 12 months",
            trigger: ".modal .o_field_widget[name='retention_months'] input",
            run: "edit 12",
        },
        {
            content: "Save",
            trigger: ".modal .modal-footer button[name='action_save']",
            run: "click",
        },
        {
            content: "The dialog is closed",
            trigger: "body:not(:has(.modal))",
        },
    ],
});
