"""The Candid implementation behind `icchat.ic.candid` (import the public API from there).

Modules, one job each:
  types     type objects, values' helper classes (Some, FuncRef), idl_hash
  leb128    LEB128 / SLEB128 and a bounds-checked byte reader
  encode    values + types -> Candid binary (type table, then values)
  decode    Candid binary -> wire types + values, metered against hostile input
  coerce    subtyping and the spec's coercion of wire values to expected types
  syntax    lexer + parser for .did files, types and textual values
  textual   textual values (parsed) -> Python values at a type

Stdlib only: this package also runs in Pyodide.
"""
