"""What faces the internet: the regional public entry, routing into the mesh, the global CloudFront edge, WAF."""
