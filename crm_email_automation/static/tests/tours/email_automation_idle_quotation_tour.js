/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const STEPS_LIST = "div[name='step_ids']";
const AUTOCOMPLETE_ITEM = ".o-autocomplete--dropdown-menu .ui-menu-item-wrapper";

/**
 * Steps that type `search` in the many2one or many2many_tags field `fieldName` of the
 * scenario form and pick the suggestion labelled exactly `label` ("Status", not
 * "Invoice Status").
 */
function pick(fieldName, search, label) {
    return [
        {
            content: `Search "${search}" in ${fieldName}`,
            trigger: `.o_form_view .o_field_widget[name='${fieldName}'] input`,
            run: `edit ${search}`,
        },
        {
            content: `Pick "${label}"`,
            trigger: `${AUTOCOMPLETE_ITEM}:contains(/^\\s*${label}\\s*$/)`,
            run: "click",
        },
    ];
}

/**
 * Steps that open the filter editor of the domain field `fieldName` and type `domain`
 * in its code editor (the tour runs in debug mode).
 */
function editDomain(fieldName, domain) {
    return [
        {
            content: `Edit the filter ${fieldName}`,
            trigger: `.o_field_widget[name='${fieldName}'] .o_field_domain_dialog_button`,
            run: "click",
        },
        {
            content: `Type the filter ${domain}`,
            trigger: ".modal .o_domain_selector_debug_container textarea",
            run: `edit ${domain}`,
        },
        {
            content: "Confirm the filter",
            trigger: ".modal .modal-footer .btn-primary:enabled",
            run: "click",
        },
        {
            content: "The filter editor is closed",
            trigger: `body:not(:has(.modal)) .o_field_widget[name='${fieldName}'] .o_domain_show_selection_button`,
        },
    ];
}

/**
 * A manager who is not an administrator builds the idle-quotation scenario from scratch:
 * a quotation sent and not confirmed 48 hours later gets a reminder.
 */
registry.category("web_tour.tours").add("crm_email_automation_idle_quotation_tour", {
    url: "/odoo?debug=1",
    steps: () => [
        ...stepUtils.goToAppSteps(
            "crm_email_automation.crm_email_automation_menu_root",
            "Open the E-mail Automation app"
        ),
        {
            content: "Wait for the scenarios",
            trigger: ".o_breadcrumb:contains('Scenarios')",
        },
        {
            content: "Create a scenario",
            trigger: ".o_control_panel_main_buttons .o-kanban-button-new",
            run: "click",
        },
        {
            content: "Name the scenario",
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            run: "edit Idle quotation tour",
        },
        ...pick("model_id", "Sales Order", "Sales Order"),
        {
            content: "The scenario runs on quotations",
            trigger: ".o_field_widget[name='model_id'] input:value('Sales Order')",
        },
        {
            content: "The customer receives the e-mails",
            trigger: ".o_field_widget[name='recipient_field_id'] input:value('Customer')",
        },
        {
            content: "A record enters when a field takes a value",
            trigger: ".o_field_widget[name='trigger'] select",
            run: 'select "on_value"',
        },
        ...pick("trigger_field_id", "Status", "Status"),
        {
            content: "The trigger field is the status",
            trigger: ".o_field_widget[name='trigger_field_id'] input:value('Status')",
        },
        ...pick("trigger_selection_ids", "Quotation Sent", "Quotation Sent"),
        {
            content: "The quotation enters when it is sent",
            trigger: ".o_field_widget[name='trigger_selection_ids'] .o_tag:contains('Quotation Sent')",
        },
        ...editDomain("domain", '[("amount_total", ">", 0)]'),
        {
            content: "The goal is optional: none yet, and no filter editor saying 'all records'",
            trigger: ".o_form_view div[name='no_goal']:not(:has(.o_field_widget[name='goal_domain']))",
        },
        {
            content: "Give the scenario a goal",
            trigger: ".o_field_widget[name='has_goal'] input",
            run: "click",
        },
        ...editDomain("goal_domain", '[("state", "=", "sale")]'),
        {
            content: "Add the reminder step",
            trigger: `${STEPS_LIST} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "Name the step",
            trigger: `${STEPS_LIST} .o_selected_row [name='name'] input`,
            run: "edit Reminder after 48 hours",
        },
        {
            content: "The step sends an e-mail",
            trigger: `${STEPS_LIST} .o_selected_row [name='action_type'] select`,
            run: 'select "mail"',
        },
        {
            content: "Wait 48",
            trigger: `${STEPS_LIST} .o_selected_row [name='delay'] input`,
            run: "edit 48",
        },
        {
            content: "... hours",
            trigger: `${STEPS_LIST} .o_selected_row [name='delay_unit'] select`,
            run: 'select "hours"',
        },
        {
            content: "Choose the manager's template",
            trigger: `${STEPS_LIST} .o_selected_row [name='mail_template_id'] input`,
            run: "edit Idle quotation reminder",
        },
        {
            content: "Pick it in the autocomplete",
            trigger: `${AUTOCOMPLETE_ITEM}:contains("Idle quotation reminder")`,
            run: "click",
        },
        {
            content: "The template is set",
            trigger: `${STEPS_LIST} .o_selected_row [name='mail_template_id'] input:value("Idle quotation reminder")`,
        },
        ...stepUtils.saveForm(),
        {
            content: "The step is saved",
            trigger: `${STEPS_LIST} .o_data_row td[name='name']:contains('Reminder after 48 hours')`,
        },
        {
            content: "Start the scenario",
            trigger: ".o_statusbar_buttons button[name='action_start']:enabled",
            run: "click",
        },
        {
            content: "The scenario is running",
            trigger: ".o_statusbar_status button.o_arrow_button_current[data-value='running']",
        },
        {
            content: "It can now be paused",
            trigger: ".o_statusbar_buttons button[name='action_pause']",
        },
    ],
});
