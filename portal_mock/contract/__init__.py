"""``portal-mock contract``: Schemathesis plus this API's own rules, against any deployment.

Layers, each importing only the ones above it::

    settings   what the command was asked to do (flags over PORTAL_MOCK_CONTRACT_*)
    spec       what the checks read from the OpenAPI document
    rules      the contract's promises as pure functions over requests and responses
    probe      the few extra requests a check makes, over the run's own session
    memory     what this run has seen: each call's context and each link's server fields
    population the links the run seeds and the list queries that split them (pure)
    seeding    creates the population through the API before the first phase, removes it after
    checks     Schemathesis checks built from the rules
    cases      the data-aware cases added to each operation's examples
    summary    the short report: operations, cases, failures by check, failing exchanges
    hooks      the module Schemathesis loads: registers the checks, the hooks and the summary
    target     the built-in mock on a free port, and the reachability probe
    runner     writes the Schemathesis config and runs ``st run`` with it

Only ``hooks`` has side effects on import; Schemathesis loads it in the ``st run``
process that ``runner`` starts, so nothing is registered in the caller's process.
"""
