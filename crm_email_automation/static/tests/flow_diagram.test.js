import { describe, expect, test } from "@odoo/hoot";
import { animationFrame } from "@odoo/hoot-mock";
import {
    contains,
    defineModels,
    fields,
    mockService,
    models,
    mountView,
    onRpc,
} from "@web/../tests/web_test_helpers";
import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { buildFlowTree, percent } from "@crm_email_automation/components/flow_diagram/flow_diagram";

class Step extends models.Model {
    _name = "email.automation.step";

    name = fields.Char();
    scenario_id = fields.Many2one({ relation: "email.automation.scenario" });
    parent_id = fields.Many2one({ relation: "email.automation.step" });
    // "mail_not_opened" stands for an outcome added later: the widget must label it from
    // the field, with no change to its code.
    trigger_type = fields.Selection({
        selection: [
            ["begin", "After enrolment"],
            ["after_parent", "After the previous step"],
            ["mail_not_opened", "Not opened in time"],
        ],
    });
    action_type = fields.Selection({
        selection: [
            ["mail", "Send an e-mail"],
            ["activity", "Schedule an activity"],
            ["end", "End the scenario"],
        ],
    });
    delay_unit = fields.Selection({
        selection: [
            ["hours", "Hours"],
            ["days", "Days"],
        ],
    });

    _records = [
        { id: 11, name: "Welcome", scenario_id: 1, trigger_type: "begin", action_type: "mail" },
        { id: 12, name: "Reminder", scenario_id: 1, parent_id: 11, trigger_type: "mail_not_opened", action_type: "mail" },
    ];
    _views = {
        form: `<form><field name="name"/><field name="scenario_id"/><field name="trigger_type"/><field name="parent_id"/></form>`,
    };
}

class Scenario extends models.Model {
    _name = "email.automation.scenario";

    name = fields.Char();
    step_ids = fields.One2many({ relation: "email.automation.step", relation_field: "scenario_id" });
    // The widget's own field, computed from the steps on the server.
    flow_step_ids = fields.Many2many({ relation: "email.automation.step" });

    _records = [{ id: 1, name: "Idle quotation", step_ids: [11, 12], flow_step_ids: [11, 12] }];
}

// The module depends on mail: its services are in the web client the widget runs in.
defineMailModels();
defineModels([Scenario, Step]);

// As the scenario form has it: the step list and the flow, each on its own field.
const FORM_ARCH = `<form><sheet><field name="name"/><field name="step_ids"><list><field name="name"/></list></field><field name="flow_step_ids" widget="email_automation_flow"/></sheet></form>`;

function node(id, name, parentId, triggerType, counts = {}, extra = {}) {
    return {
        id,
        name,
        parent_id: parentId,
        sequence: id,
        trigger_type: triggerType,
        action_type: "mail",
        delay: 0,
        delay_unit: "days",
        condition: false,
        counts: { waiting: 0, sent: 0, failed: 0, opened: 0, clicked: 0, conversions: 0, ...counts },
        ...extra,
    };
}

const flowCalls = { count: 0 };

function mockFlow(nodes) {
    flowCalls.count = 0;
    onRpc("email.automation.scenario", "get_flow_data", () => {
        flowCalls.count++;
        return { scenario_id: 1, has_conversions: true, nodes };
    });
}

function shape(items) {
    return items.map((item) => [item.node.name, shape(item.children)]);
}

describe("layout", () => {
    test("steps hang under their parent, in step order", () => {
        const tree = buildFlowTree([
            node(1, "A", false, "begin"),
            node(2, "B", 1, "after_parent"),
            node(3, "C", 2, "mail_opened"),
            node(4, "D", 2, "mail_not_opened"),
            node(5, "E", 4, "after_parent"),
        ]);
        expect(shape(tree)).toEqual([["A", [["B", [["C", []], ["D", [["E", []]]]]]]]]);
    });

    test("thirty steps: every step drawn once", () => {
        const nodes = [node(1, "Step 1", false, "begin")];
        let parent = 1;
        for (let id = 2; id <= 30; id += 2) {
            nodes.push(node(id, `Leaf ${id}`, parent, "mail_opened"));
            nodes.push(node(id + 1, `Step ${id + 1}`, parent, "mail_not_opened"));
            parent = id + 1;
        }
        const drawn = [];
        const walk = (items) => items.forEach((item) => drawn.push(item.node.id) && walk(item.children));
        walk(buildFlowTree(nodes));
        expect(drawn.length).toBe(nodes.length);
        expect(new Set(drawn).size).toBe(nodes.length);
    });

    test("a step whose parent is not readable, or in a cycle, is still drawn", () => {
        expect(shape(buildFlowTree([node(7, "Orphan", 99, "after_parent")]))).toEqual([["Orphan", []]]);
        const cycle = buildFlowTree([node(1, "A", 2, "after_parent"), node(2, "B", 1, "after_parent")]);
        expect(shape(cycle)).toEqual([["A", [["B", []]]]]);
    });

    test("rates", () => {
        expect(percent(1, 3)).toBe(33.3);
        expect(percent(5, 0)).toBe(0);
    });
});

describe("widget", () => {
    test("draws each step with its outcome label and counts", async () => {
        mockFlow([
            node(11, "Welcome", false, "begin", { sent: 4, opened: 2, clicked: 1, waiting: 3, conversions: 1 }),
            node(12, "Reminder", 11, "mail_not_opened", { waiting: 2 }, { delay: 2, condition: "[('email', '!=', False)]" }),
        ]);
        await mountView({ type: "form", resModel: "email.automation.scenario", resId: 1, arch: FORM_ARCH });

        expect(".o_ea_flow_row").toHaveCount(2);
        const welcome = ".o_ea_flow_row[data-step-id='11']";
        const reminder = ".o_ea_flow_row[data-step-id='12']";
        expect(`${welcome} .o_ea_flow_name`).toHaveText("Welcome");
        expect(`${welcome} .o_ea_flow_outcome`).toHaveText("After enrolment");
        expect(`${welcome} .o_ea_flow_sent b`).toHaveText("4");
        expect(`${welcome} .o_ea_flow_waiting b`).toHaveText("3");
        expect(`${welcome} .o_ea_flow_opened b`).toHaveText("2");
        expect(`${welcome} .o_ea_flow_opened .text-muted`).toHaveText("(50 %)");
        expect(`${welcome} .o_ea_flow_clicked b`).toHaveText("1");
        expect(`${welcome} .o_ea_flow_clicked .text-muted`).toHaveText("(25 %)");
        expect(`${welcome} .o_ea_flow_conversions b`).toHaveText("1");
        expect(`${reminder} .o_ea_flow_outcome`).toHaveText("Not opened in time");
        expect(`${reminder} .o_ea_flow_delay`).toHaveText("Wait (days): 2");
        expect(`${reminder} .o_ea_flow_condition`).toHaveText("[('email', '!=', False)]");
    });

    test("a step with A/B variants lists them with their rates and verdict", async () => {
        const variant = (id, name, share, rates, extra = {}) => ({
            id,
            name,
            share,
            is_winner: false,
            sent: 40,
            open_rate: rates[0],
            click_rate: rates[1],
            conversion_rate: rates[2],
            p_value: null,
            test_result: "Not enough data yet",
            ...extra,
        });
        mockFlow([
            node(11, "Welcome", false, "begin", { sent: 80 }, {
                variants: [
                    variant(1, "A: reminder", 50, [20, 5, 2.5]),
                    variant(2, "B: question", 50, [45, 10, 0], { is_winner: true, test_result: "Best, significant at 95%" }),
                ],
            }),
            node(12, "Reminder", 11, "after_parent", {}, { variants: [] }),
        ]);
        await mountView({ type: "form", resModel: "email.automation.scenario", resId: 1, arch: FORM_ARCH });

        const welcome = ".o_ea_flow_row[data-step-id='11']";
        expect(`${welcome} .o_ea_flow_variant`).toHaveCount(2);
        expect(`${welcome} .o_ea_flow_variant:eq(0) .o_ea_flow_variant_name`).toHaveText("A: reminder (50 %)");
        expect(`${welcome} .o_ea_flow_variant:eq(0)`).toHaveText(/Opened 20\.0 %.*Clicked 5\.0 %.*Conversions 2\.5 %/);
        expect(`${welcome} .o_ea_flow_variant:eq(0) .o_ea_flow_variant_test`).toHaveText("Not enough data yet");
        expect(`${welcome} .o_ea_flow_variant:eq(1)`).toHaveClass("text-success");
        expect(`${welcome} .o_ea_flow_variant:eq(1) .fa-trophy`).toHaveCount(1);
        expect(`${welcome} .o_ea_flow_variant:eq(1) .o_ea_flow_variant_test`).toHaveText("Best, significant at 95%");
        expect(".o_ea_flow_row[data-step-id='12'] .o_ea_flow_variants").toHaveCount(0);
    });

    test("a click on a step opens its traces", async () => {
        mockFlow([node(11, "Welcome", false, "begin", { sent: 1 })]);
        onRpc("email.automation.scenario", "action_view_step_traces", ({ args }) => {
            expect.step(`traces of step ${args[1]} of scenario ${args[0]}`);
            return { type: "ir.actions.act_window", res_model: "email.automation.trace", domain: [["step_id", "=", 11]] };
        });
        mockService("action", {
            doAction(action) {
                expect.step(`open ${action.res_model}`);
            },
        });
        await mountView({ type: "form", resModel: "email.automation.scenario", resId: 1, arch: FORM_ARCH });
        await contains(".o_ea_flow_row[data-step-id='11'] .o_ea_flow_open").click();
        expect.verifySteps(["traces of step 11 of scenario 1", "open email.automation.trace"]);
    });

    test("a form the user may not edit offers no step to add", async () => {
        mockFlow([node(11, "Welcome", false, "begin", { sent: 2 })]);
        await mountView({
            type: "form",
            resModel: "email.automation.scenario",
            resId: 1,
            arch: FORM_ARCH.replace("<form>", `<form edit="0">`),
        });
        expect(".o_ea_flow_row").toHaveCount(1);
        expect(".o_ea_flow_add").toHaveCount(0);
        expect(".o_ea_flow_add_root").toHaveCount(0);
    });

    test("adds a child step on an outcome the field offers", async () => {
        const nodes = [node(11, "Welcome", false, "begin"), node(12, "Reminder", 11, "after_parent")];
        mockFlow(nodes);
        onRpc("email.automation.step", "web_save", ({ args, kwargs }) => {
            expect.step(`create ${args[1].name} after ${args[1].parent_id} on ${args[1].trigger_type}`);
            expect(kwargs.context.default_parent_id).toBe(11);
            nodes.push(node(13, args[1].name, args[1].parent_id, args[1].trigger_type));
        });
        await mountView({ type: "form", resModel: "email.automation.scenario", resId: 1, arch: FORM_ARCH });

        await contains(".o_ea_flow_row[data-step-id='11'] .o_ea_flow_add").click();
        // "After enrolment" starts a scenario: it is not offered under a step.
        expect(".o_ea_flow_add_outcome").toHaveCount(2);
        expect(".o_ea_flow_add_outcome:eq(1)").toHaveText("Not opened in time");
        await contains(".o_ea_flow_add_outcome[data-outcome='mail_not_opened']").click();
        await animationFrame();
        expect(".modal .o_form_view").toHaveCount(1);
        expect(".modal [name='trigger_type'] select").toHaveValue('"mail_not_opened"');
        await contains(".modal [name='name'] input").edit("Nudge");
        await contains(".modal .o_form_button_save").click();
        expect.verifySteps(["create Nudge after 11 on mail_not_opened"]);
        expect(".modal").toHaveCount(0);
        // The flow is drawn again: the welcome e-mail now branches in two.
        await animationFrame();
        expect(".o_ea_flow_row").toHaveCount(3);
        expect(".o_ea_flow_name:eq(2)").toHaveText("Nudge");
        expect(flowCalls.count).toBeGreaterThan(1);
        expect(".o_ea_flow_branches .o_ea_flow_row").toHaveCount(2);
        expect(".o_ea_flow_row[data-step-id='13'] .o_ea_flow_outcome").toHaveText("Not opened in time");
    });
});
