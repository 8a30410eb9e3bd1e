/** Runs the shared authentication table against every protected route. */
import { describeAuthTable } from './auth-table.js'

describeAuthTable([
  { method: 'POST', url: '/predict?text=a%20fine%20film', scope: 'predict', okStatus: 200 },
  { method: 'GET', url: '/v1/audit?limit=5', scope: 'admin', okStatus: 200 },
  { method: 'GET', url: '/v1/usage?bucket=day', scope: 'any', okStatus: 200 },
  { method: 'GET', url: '/metrics', scope: 'admin', okStatus: 200 },
])
