"""Reading and writing scenario documents as YAML, with the line of every key.

Reading uses `yaml.safe_load` for the values and `yaml.compose` (the same SafeLoader) for
the node tree, whose marks give the line of each key and list item, so that an error
names the line to fix. Writing uses a SafeDumper that prints multi-line text (e-mail
bodies) as literal blocks, readable in a git diff; it emits only plain YAML types.
"""

import yaml


class DocumentSyntaxError(ValueError):
    def __init__(self, line, message):
        super().__init__(message)
        self.line = line


def load_with_lines(text):
    """Return (data, lines, duplicates): the document, {path: line} of every mapping key and
    list item (path: tuple of keys and indexes from the root), and the (line, key) of keys
    written twice in one mapping (safe_load would silently keep the last)."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise DocumentSyntaxError(mark.line + 1 if mark else None, problem) from error
    lines, duplicates = {}, []

    def walk(node, path):
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    duplicates.append((key_node.start_mark.line + 1, key))
                seen.add(key)
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return data, lines, duplicates


def line_of(lines, path):
    """The line of `path`, or of its nearest ancestor written in the file."""
    path = tuple(path)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


class _DocumentDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_DocumentDumper.add_representer(str, _represent_str)


def dump_document(data):
    return yaml.dump(data, Dumper=_DocumentDumper, allow_unicode=True, sort_keys=False, width=100)
