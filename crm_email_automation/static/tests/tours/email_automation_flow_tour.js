import { registry } from "@web/core/registry";

const WELCOME = ".o_ea_flow_row:has(.o_ea_flow_name:contains('Tour welcome'))";

registry.category("web_tour.tours").add("crm_email_automation_flow_tour", {
    steps: () => [
        {
            content: "Open the scenario's flow",
            trigger: ".o_notebook .nav-link:contains('Flow')",
            run: "click",
        },
        {
            content: "The first step shows its sent e-mails",
            trigger: `${WELCOME} .o_ea_flow_sent b:contains('3')`,
        },
        {
            content: "... its human opens and clicks",
            trigger: `${WELCOME} .o_ea_flow_opened:contains('2'):contains('66.7 %')`,
        },
        {
            content: "... and its clicks",
            trigger: `${WELCOME} .o_ea_flow_clicked:contains('1'):contains('33.3 %')`,
        },
        {
            content: "The reminder waits for one participant",
            trigger: ".o_ea_flow_row:has(.o_ea_flow_name:contains('Tour reminder')) .o_ea_flow_waiting b:contains('1')",
        },
        {
            content: "Add a step after the welcome e-mail",
            trigger: `${WELCOME} .o_ea_flow_add`,
            run: "click",
        },
        {
            content: "Choose the outcome that leads to it",
            trigger: ".o_ea_flow_add_outcome[data-outcome='after_parent']",
            run: "click",
        },
        {
            content: "The step form opens with its place in the flow set",
            trigger: ".modal .o_form_view [name='parent_id'] input:value('Tour welcome')",
        },
        {
            content: "Name the new step",
            trigger: ".modal [name='name'] input",
            run: "edit Tour branch",
        },
        {
            content: "Choose its template",
            trigger: ".modal [name='mail_template_id'] input",
            run: "edit Tour flow template",
        },
        {
            content: "Pick it in the autocomplete",
            trigger: ".o-autocomplete--dropdown-menu .ui-menu-item-wrapper:contains('Tour flow template')",
            run: "click",
        },
        {
            content: "Save the step",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The new branch is drawn under the welcome e-mail",
            trigger: ".o_ea_flow_row:has(.o_ea_flow_name:contains('Tour branch')) .o_ea_flow_outcome",
        },
        {
            content: "The welcome e-mail now has two branches",
            trigger: ".o_ea_flow_branches .o_ea_flow_branch .o_ea_flow_row:has(.o_ea_flow_name:contains('Tour reminder'))",
        },
    ],
});
