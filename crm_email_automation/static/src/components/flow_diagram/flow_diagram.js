import { Component, onWillStart, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useRecordObserver } from "@web/model/relational_model/utils";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { FormViewDialog } from "@web/views/view_dialogs/form_view_dialog";

const SCENARIO_MODEL = "email.automation.scenario";
const STEP_MODEL = "email.automation.step";
// A step that starts at enrolment has no parent: it is not an outcome one can add under a node.
const ROOT_TRIGGER = "begin";
const ACTION_ICONS = {
    mail: "fa-envelope-o",
    activity: "fa-tasks",
    end: "fa-flag-checkered",
};

/**
 * Turn the flat list of steps into a tree: [{ node, children: [...] }], in step order. A step
 * whose parent the user may not read is drawn as a root rather than lost, and so is a step
 * caught in a cycle (which cannot be saved, but must never vanish from the drawing).
 */
export function buildFlowTree(nodes) {
    const ids = new Set(nodes.map((node) => node.id));
    const items = new Map(nodes.map((node) => [node.id, { node, children: [] }]));
    const roots = [];
    for (const node of nodes) {
        const parentId = node.parent_id && ids.has(node.parent_id) ? node.parent_id : false;
        (parentId ? items.get(parentId).children : roots).push(items.get(node.id));
    }
    const reached = new Set();
    const visit = (item) => {
        reached.add(item.node.id);
        item.children.forEach(visit);
    };
    roots.forEach(visit);
    for (const node of nodes) {
        if (!reached.has(node.id)) {
            const item = items.get(node.id);
            // Cut the cycle where it was found.
            for (const other of items.values()) {
                other.children = other.children.filter((child) => child !== item);
            }
            roots.push(item);
            visit(item);
        }
    }
    return roots;
}

export function percent(part, whole) {
    return whole ? Math.round((1000 * part) / whole) / 10 : 0;
}

/**
 * One step and what follows it, drawn by the diagram: a component of its own so that each
 * branch redraws when the flow is loaded again (it calls itself for the steps below).
 */
export class FlowChain extends Component {
    static template = "crm_email_automation.FlowDiagram.Chain";
    static components = { Dropdown, DropdownItem };
    static props = { item: Object, diagram: Object };

    get diagram() {
        return this.props.diagram;
    }

    get canEdit() {
        return this.diagram.canEdit;
    }

    get childOutcomes() {
        return this.diagram.childOutcomes;
    }

    label(fieldName, value) {
        return this.diagram.label(fieldName, value);
    }

    actionIcon(node) {
        return this.diagram.actionIcon(node);
    }

    delayText(node) {
        return this.diagram.delayText(node);
    }

    formatRate(value) {
        return (value || 0).toFixed(1);
    }

    rate(node, key) {
        return this.diagram.rate(node, key);
    }

    openTraces(node) {
        return this.diagram.openTraces(node);
    }

    onNodeKeydown(ev, node) {
        return this.diagram.onNodeKeydown(ev, node);
    }

    addStep(parent, triggerType) {
        return this.diagram.addStep(parent, triggerType);
    }
}
FlowChain.components.FlowChain = FlowChain;

export class FlowDiagram extends Component {
    static template = "crm_email_automation.FlowDiagram";
    static components = { FlowChain };
    static props = { ...standardFieldProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.state = useState({ nodes: [], loaded: false, stale: false, hasConversions: false });
        this.selections = { trigger_type: [], action_type: [], delay_unit: [] };
        this.loadedKey = null;
        onWillStart(() => this.loadSelections());
        // The field (flow_step_ids) follows the scenario's steps: a step added or removed in
        // the Steps tab changes it, and the drawing says it is out of date until saved.
        useRecordObserver((record) => {
            const key = `${record.resId}:${record.data[this.props.name].currentIds.join(",")}`;
            const dirty = record.dirty;
            if (key !== this.loadedKey && !dirty) {
                this.loadedKey = key;
                return this.loadFlow(record.resId);
            }
            this.state.stale = dirty;
        });
    }

    async loadSelections() {
        // The labels come from the field itself: new outcomes appear here without a change.
        const fields = await this.orm.call(STEP_MODEL, "fields_get", [Object.keys(this.selections)]);
        for (const name of Object.keys(this.selections)) {
            this.selections[name] = fields[name]?.selection || [];
        }
    }

    async loadFlow(resId) {
        if (!resId) {
            Object.assign(this.state, { nodes: [], loaded: true, stale: false });
            return;
        }
        const data = await this.orm.call(SCENARIO_MODEL, "get_flow_data", [[resId]]);
        Object.assign(this.state, {
            nodes: data.nodes,
            hasConversions: data.has_conversions,
            loaded: true,
            stale: false,
        });
    }

    get tree() {
        return buildFlowTree(this.state.nodes);
    }

    get childOutcomes() {
        return this.selections.trigger_type.filter(([value]) => value !== ROOT_TRIGGER);
    }

    get canEdit() {
        // The field itself is computed (always read-only): steps are added when the form is
        // editable, as the step list's own "Add a line" is.
        const record = this.props.record;
        return record.isInEdition && Boolean(record.resId);
    }

    label(fieldName, value) {
        const option = this.selections[fieldName].find(([key]) => key === value);
        return option ? option[1] : value;
    }

    actionIcon(node) {
        return ACTION_ICONS[node.action_type] || "fa-circle-o";
    }

    delayText(node) {
        if (!node.delay) {
            return _t("No wait");
        }
        // "Wait (days): 3" reads right in every language, whatever its plural forms.
        return _t("Wait (%(unit)s): %(delay)s", {
            delay: node.delay,
            unit: this.label("delay_unit", node.delay_unit).toLowerCase(),
        });
    }

    rate(node, key) {
        return percent(node.counts[key], node.counts.sent);
    }

    async openTraces(node) {
        const action = await this.orm.call(SCENARIO_MODEL, "action_view_step_traces", [
            [this.props.record.resId],
            node.id,
        ]);
        await this.action.doAction(action);
    }

    onNodeKeydown(ev, node) {
        if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            this.openTraces(node);
        }
    }

    async addStep(parent, triggerType) {
        const record = this.props.record;
        if (record.dirty && !(await record.save())) {
            return;
        }
        const context = {
            default_scenario_id: record.resId,
            default_trigger_type: triggerType,
            default_parent_id: parent ? parent.id : false,
        };
        this.dialog.add(FormViewDialog, {
            resModel: STEP_MODEL,
            context,
            title: parent
                ? _t("New step after “%(name)s”: %(outcome)s", {
                      name: parent.name,
                      outcome: this.label("trigger_type", triggerType),
                  })
                : _t("New first step"),
            onRecordSaved: async () => {
                await record.load();
                this.loadedKey = null;
                await this.loadFlow(record.resId);
            },
        });
    }
}

export const flowDiagram = {
    component: FlowDiagram,
    displayName: _t("Scenario flow"),
    supportedTypes: ["many2many", "one2many"],
    relatedFields: [],
};

registry.category("fields").add("email_automation_flow", flowDiagram);
