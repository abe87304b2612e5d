"""IFS Cloud OData v4 adapter: query building (`odata`), tokens (`auth`),
error classification (`errors`) and the client (`client.IfsClient`).

Behaviour follows shared/api/ifs-cloud.md; sections are cited where it matters.
"""
