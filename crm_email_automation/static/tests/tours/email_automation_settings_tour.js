/** @odoo-module */

import { registry } from "@web/core/registry";

/**
 * An administrator opens the module's Settings: they open on E-mail Automation, the
 * consent policy first, and without the queue's internals (developer mode only).
 */
registry.category("web_tour.tours").add("crm_email_automation_settings_tour", {
    steps: () => [
        {
            content: "Settings open on the E-mail Automation tab",
            trigger: ".settings_tab .tab.selected[data-key='crm_email_automation']",
        },
        {
            content: "The consent policy is the first setting, with its choices",
            trigger:
                ".app_settings_block[data-key='crm_email_automation'] #email_automation_consent_policy .o_field_widget[name='email_automation_consent_policy'] input[data-value='opt_in']",
            run() {
                const block = document.querySelector(".app_settings_block[data-key='crm_email_automation']");
                const first = block.querySelector(".o_setting_box");
                if (first.id !== "email_automation_consent_policy") {
                    throw new Error(`The first setting is ${first.id}, not the consent policy`);
                }
                const titles = [...block.querySelectorAll("h2")].map((title) => title.textContent.trim());
                if (titles[0] !== "Consent" || titles.includes("Sending Queue")) {
                    throw new Error(`Unexpected blocks: ${titles.join(", ")}`);
                }
            },
        },
        {
            content: "The delivery providers are one click away",
            trigger: "#email_automation_providers button[name='action_email_automation_providers']",
            run: "click",
        },
        {
            content: "The providers' list opens",
            trigger: ".o_breadcrumb .active:contains(Delivery Providers)",
        },
    ],
});
