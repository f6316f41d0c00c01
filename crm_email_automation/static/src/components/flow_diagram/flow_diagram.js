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
// Branches indent the drawing; past this depth they stop moving right, so 30 steps still fit.
const MAX_INDENT = 8;
const ACTION_ICONS = {
    mail: "fa-envelope-o",
    activity: "fa-tasks",
    end: "fa-flag-checkered",
};

/**
 * Turn the flat list of steps into the rows of the drawing, depth first. A step that is its
 * parent's only child continues the same column (a chain of reminders stays a straight line);
 * the children of a step with several children are indented, one branch under the other.
 */
export function layoutFlow(nodes) {
    const byParent = new Map();
    const ids = new Set(nodes.map((node) => node.id));
    for (const node of nodes) {
        // A parent the user may not read is drawn as a root rather than lost.
        const parentId = node.parent_id && ids.has(node.parent_id) ? node.parent_id : false;
        if (!byParent.has(parentId)) {
            byParent.set(parentId, []);
        }
        byParent.get(parentId).push(node);
    }
    const rows = [];
    const seen = new Set();
    const visit = (node, level, isBranch) => {
        if (seen.has(node.id)) {
            return;
        }
        seen.add(node.id);
        rows.push({ node, level: Math.min(level, MAX_INDENT), isBranch });
        const children = byParent.get(node.id) || [];
        const branching = children.length > 1;
        for (const child of children) {
            visit(child, branching ? level + 1 : level, branching);
        }
    };
    const roots = byParent.get(false) || [];
    for (const root of roots) {
        visit(root, roots.length > 1 ? 1 : 0, roots.length > 1);
    }
    // A cycle cannot be saved, but never drop a step from the drawing.
    for (const node of nodes) {
        visit(node, 0, false);
    }
    return rows;
}

export function percent(part, whole) {
    return whole ? Math.round((1000 * part) / whole) / 10 : 0;
}

export class FlowDiagram extends Component {
    static template = "crm_email_automation.FlowDiagram";
    static components = { Dropdown, DropdownItem };
    static props = { ...standardFieldProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.state = useState({ nodes: [], loaded: false, stale: false, hasConversions: false });
        this.selections = { trigger_type: [], action_type: [], delay_unit: [] };
        this.loadedKey = null;
        onWillStart(() => this.loadSelections());
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

    get rows() {
        return layoutFlow(this.state.nodes);
    }

    get childOutcomes() {
        return this.selections.trigger_type.filter(([value]) => value !== ROOT_TRIGGER);
    }

    get canEdit() {
        return !this.props.readonly && Boolean(this.props.record.resId);
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
        return _t("Wait %(delay)s %(unit)s", {
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
    supportedTypes: ["one2many"],
    relatedFields: [],
};

registry.category("fields").add("email_automation_flow", flowDiagram);
