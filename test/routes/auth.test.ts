/** Runs the shared authentication table against every protected route. */
import { describeAuthTable } from './auth-table.js'

describeAuthTable([
  { method: 'POST', url: '/predict?text=a%20fine%20film', scope: 'predict', okStatus: 200, model: 'sentiment' },
  {
    method: 'POST',
    url: '/v1/models/sentiment/predict',
    payload: { texts: ['fine', 'bad'] },
    scope: 'predict',
    okStatus: 200,
    model: 'sentiment',
  },
  { method: 'POST', url: '/v1/jobs', payload: { texts: ['fine'] }, scope: 'predict', okStatus: 202, model: 'sentiment' },
  { method: 'GET', url: '/v1/jobs', scope: 'any', okStatus: 200 },
  { method: 'GET', url: '/v1/models', scope: 'predict', okStatus: 200 },
  { method: 'GET', url: '/v1/audit?limit=5', scope: 'admin', okStatus: 200 },
  { method: 'GET', url: '/v1/usage?bucket=day', scope: 'any', okStatus: 200 },
  { method: 'GET', url: '/metrics', scope: 'admin', okStatus: 200 },
])
