/** @odoo-module */

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const COVERAGE = ".o_field_widget[name='consent_coverage']";

registry.category("web_tour.tours").add("crm_email_automation_consent_coverage_tour", {
    steps: () => [
        {
            content: "The marketing scenario says how many records of its segment may be e-mailed",
            trigger: `.o_form_view div[name='consent_coverage_partial'] ${COVERAGE}:contains('May be e-mailed under the consent policy: 1 of 3.')`,
        },
        {
            content: "and that the others will be skipped",
            trigger: `.o_form_view ${COVERAGE}:contains('The others will be skipped')`,
        },
        {
            content: "Make the scenario transactional",
            trigger: ".o_form_view .o_field_widget[name='category'] input[data-value='transactional']",
            run: "click",
        },
        {
            content: "Transactional e-mail needs no marketing consent: the count is gone",
            trigger: ".o_form_view:not(:has(.o_field_widget[name='consent_coverage']))",
        },
        {
            content: "Back to marketing",
            trigger: ".o_form_view .o_field_widget[name='category'] input[data-value='marketing']",
            run: "click",
        },
        {
            content: "The count is back",
            trigger: `.o_form_view div[name='consent_coverage_partial'] ${COVERAGE}:contains('1 of 3')`,
        },
        ...stepUtils.saveForm(),
    ],
});
