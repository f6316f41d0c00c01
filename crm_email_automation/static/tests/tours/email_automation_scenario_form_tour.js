/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const STEPS_LIST = "div[name='step_ids']";
const AUTOCOMPLETE_ITEM = ".o-autocomplete--dropdown-menu .ui-menu-item-wrapper";

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
 * A manager who is not an administrator builds "follow up a lead that reaches the stage
 * Qualified": no stat buttons or actions before the scenario is saved, no "all records" goal,
 * and the stage picked by its name.
 */
registry.category("web_tour.tours").add("crm_email_automation_scenario_form_tour", {
    url: "/odoo",
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
            content: "An unsaved scenario shows no stat buttons and no actions",
            trigger:
                ".o_form_view .o_form_sheet:not(:has(.oe_stat_button)):not(:has(.o_field_widget[name='goal_domain']))",
        },
        {
            content: "... and no Start button",
            trigger: ".o_form_view .o_form_statusbar:not(:has(button[name='action_start']))",
        },
        {
            content: "The goal is optional and says so",
            trigger: ".o_form_view div[name='no_goal']:contains('No goal')",
        },
        {
            content: "Name the scenario",
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            run: "edit Qualified lead tour",
        },
        ...pick("model_id", "Lead/Opp", "Lead/Opportunity"),
        {
            content: "A record enters when a field takes a value",
            trigger: ".o_field_widget[name='trigger'] select",
            run: 'select "on_value"',
        },
        ...pick("trigger_field_id", "Stage", "Stage"),
        ...pick("trigger_value_ref", "Qualif", "Qualified"),
        {
            content: "The stage shows by its name",
            trigger: ".o_field_widget[name='trigger_value_ref'] input:value('Qualified')",
        },
        {
            content: "Add the follow-up step",
            trigger: `${STEPS_LIST} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "Name the step",
            trigger: `${STEPS_LIST} .o_selected_row [name='name'] input`,
            run: "edit Follow-up",
        },
        {
            content: "Choose the template",
            trigger: `${STEPS_LIST} .o_selected_row [name='mail_template_id'] input`,
            run: "edit Qualified lead follow-up",
        },
        {
            content: "Pick it in the autocomplete",
            trigger: `${AUTOCOMPLETE_ITEM}:contains("Qualified lead follow-up")`,
            run: "click",
        },
        ...stepUtils.saveForm(),
        {
            content: "Saved: the stat buttons show",
            trigger: ".o_form_view .oe_stat_button[name='action_view_participants']",
        },
        {
            content: "The Start button shows",
            trigger: ".o_form_statusbar button[name='action_start']",
        },
        {
            content: "The stage still shows by its name",
            trigger: ".o_field_widget[name='trigger_value_ref'] input:value('Qualified')",
        },
    ],
});
