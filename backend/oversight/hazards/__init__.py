"""The register of major hazard sources (重大危险源): each site's hazard units with their
substances, identified and graded after GB 18218-2018 by ``backend.oversight.major_hazards``.

The enterprise (owner, safety manager) registers its units, as it must identify, grade and
file its own sources; regulators read the units of the sites in their jurisdiction and the
audit trail of every change. A site's ``major_hazard_grade`` follows its units.
"""
