"""Evaluation layer: what a solution means, checked independently of the model that produced it.

    dcopf         the TSO's DC-OPF of one hour solved by HiGHS' QP solver in PTDF form (the one
                  independent follower: dispatch, flows, LMPs, generation cost)
    redispatch    that DC-OPF hour by hour for given PCC exchanges (the TN outcome of a scheme)
    certificates  checks of a solution anyone can rerun (model.md section 6)
    metrics       the metrics of a scheme's outcome (per ADN and for the system)
    calibration   does a case exercise the bilevel? (`python -m tsodso.evaluation.calibration`)

May import data, conic, solver, formulation and analysis; never schemes, report or above.
"""
