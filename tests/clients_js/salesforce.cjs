// jsforce, unchanged, against the crmframes Salesforce sandbox.
// Reads SANDBOX_URL, SANDBOX_CREDENTIALS (JSON) and SF_VERSION from the environment; Node trusts the
// sandbox CA through NODE_EXTRA_CA_CERTS. Prints one JSON object: each step's result or its error.
'use strict';
const crypto = require('node:crypto');
const jsforce = require('jsforce');

const url = process.env.SANDBOX_URL;
const creds = JSON.parse(process.env.SANDBOX_CREDENTIALS);
const version = process.env.SF_VERSION;
const out = {};

function errorShape(err) {
  return { name: err.name, errorCode: err.errorCode, message: String(err.message) };
}

async function step(name, fn) {
  try {
    out[name] = { ok: await fn() };
  } catch (err) {
    out[name] = { error: errorShape(err) };
  }
}

function oauth2() {
  return new jsforce.OAuth2({
    loginUrl: url,
    clientId: creds.client_id,
    clientSecret: creds.client_secret,
    redirectUri: `${url}/callback`,
  });
}

function connection(extra = {}) {
  return new jsforce.Connection({ loginUrl: url, version, oauth2: oauth2(), ...extra });
}

const CSV = 'LastName,FirstName,Email\nLovelace,Ada,ada@example.com\nTuring,Alan,alan@example.com\n';

// Run after the sandbox clock has moved past the minute of main()'s writes: getUpdated and
// getDeleted truncate their window to the minute, as Salesforce does.
async function replication() {
  const conn = connection();
  await conn.authorize({ grant_type: 'client_credentials' });
  const end = new Date(Date.now() + 180000);
  const start = new Date(end.getTime() - 86400000);
  await step('updated', async () => (await conn.sobject('Contact').updated(start, end)).ids);
  await step('deleted', async () => {
    const res = await conn.sobject('Contact').deleted(start, end);
    return res.deletedRecords.map((r) => r.id);
  });
}

async function main() {
  // Login: the client-credentials flow, then who am I.
  const conn = connection();
  await step('client_credentials', async () => {
    const info = await conn.authorize({ grant_type: 'client_credentials' });
    return { userInfo: info, instanceUrl: conn.instanceUrl };
  });
  await step('identity', async () => {
    const id = await conn.identity();
    return { user_id: id.user_id, organization_id: id.organization_id, username: id.username };
  });

  // Login: the username-password flow (OAuth 2.0) and SOAP login().
  const password = creds.password + creds.security_token;
  await step('password', async () => {
    const c = connection();
    const info = await c.login(creds.username, password);
    return { userInfo: info, count: (await c.query('SELECT COUNT() FROM Account')).totalSize };
  });
  await step('soap_login', async () => {
    const c = new jsforce.Connection({ loginUrl: url, version });
    const info = await c.login(creds.username, password);
    return { userInfo: info, count: (await c.query('SELECT COUNT() FROM Account')).totalSize };
  });
  // Login: the refresh-token flow; jsforce refreshes by itself when the access token is refused.
  await step('refresh', async () => {
    const c = connection({ instanceUrl: url, accessToken: 'not-a-valid-token' });
    c.refreshToken = creds.refresh_token;
    let refreshed = false;
    c.on('refresh', () => {
      refreshed = true;
    });
    const res = await c.query('SELECT Id FROM Account LIMIT 1');
    return { refreshed, records: res.records.length };
  });

  // Login: the JWT bearer flow; the assertion is signed here with Node's crypto, jsforce sends it.
  await step('jwt_bearer', async () => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = b64({ alg: 'RS256', typ: 'JWT' });
    const claims = b64({
      iss: creds.client_id,
      sub: creds.username,
      aud: 'https://login.salesforce.com',
      exp: Math.floor(Date.now() / 1000) + 180,
    });
    const signature = crypto.sign('RSA-SHA256', Buffer.from(`${head}.${claims}`), creds.private_key);
    const c = new jsforce.Connection({ loginUrl: url, version });
    const info = await c.authorize({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: `${head}.${claims}.${signature.toString('base64url')}`,
    });
    return { userInfo: info, records: (await c.query('SELECT Id FROM Account LIMIT 2')).records.length };
  });

  // Describe.
  await step('describe_global', async () => {
    const res = await conn.describeGlobal();
    return { names: res.sobjects.map((s) => s.name) };
  });
  await step('describe_contact', async () => {
    const res = await conn.sobject('Contact').describe();
    return { name: res.name, fields: res.fields.map((f) => f.name) };
  });

  // Query with paging: one page, then queryMore by hand, then jsforce's autoFetch.
  await step('query_pages', async () => {
    const first = await conn.query('SELECT Id FROM Contact');
    const second = await conn.queryMore(first.nextRecordsUrl);
    const all = [];
    await new Promise((resolve, reject) => {
      conn
        .query('SELECT Id FROM Contact')
        .on('record', (r) => all.push(r))
        .on('end', resolve)
        .on('error', reject)
        .run({ autoFetch: true, maxFetch: 100000 });
    });
    return {
      totalSize: first.totalSize,
      firstPage: first.records.length,
      firstDone: first.done,
      secondPage: second.records.length,
      all: all.length,
      distinct: new Set(all.map((r) => r.Id)).size,
    };
  });
  await step('query_builder', async () => {
    const rows = await conn
      .sobject('Contact')
      .find({ LastName: { $like: 'S%' } }, ['Id', 'LastName', 'Account.Name'])
      .sort({ LastName: 1 })
      .limit(5);
    return { rows };
  });

  // Create / update / upsert / delete, one record and a collection.
  await step('crud_single', async () => {
    const created = await conn.sobject('Contact').create({ LastName: 'Hopper', FirstName: 'Grace' });
    const updated = await conn.sobject('Contact').update({ Id: created.id, Phone: '555-0199' });
    const read = await conn.sobject('Contact').retrieve(created.id);
    const upserted = await conn
      .sobject('Contact')
      .upsert({ External_Id__c: 'JS-0001', LastName: 'Liskov' }, 'External_Id__c');
    const again = await conn
      .sobject('Contact')
      .upsert({ External_Id__c: 'JS-0001', FirstName: 'Barbara' }, 'External_Id__c');
    const deleted = await conn.sobject('Contact').destroy(created.id);
    return { created, updated, phone: read.Phone, upserted, again, deleted };
  });
  await step('crud_collection', async () => {
    const created = await conn.sobject('Contact').create(
      [{ LastName: 'Curie' }, { LastName: 'Noether' }],
      { allOrNone: true },
    );
    const ids = created.map((r) => r.id);
    const updated = await conn
      .sobject('Contact')
      .update(ids.map((Id) => ({ Id, Title: 'Scientist' })), { allOrNone: true });
    const read = await conn.sobject('Contact').retrieve(ids, { fields: ['Id', 'Title'] });
    const upserted = await conn.sobject('Contact').upsert(
      [
        { External_Id__c: 'JS-0002', LastName: 'Hamilton' },
        { External_Id__c: 'JS-0003', LastName: 'Goldberg' },
      ],
      'External_Id__c',
      { allOrNone: true },
    );
    const partial = await conn.sobject('Contact').create([{ LastName: 'Meitner' }, { FirstName: 'NoLastName' }]);
    const deleted = await conn.sobject('Contact').destroy(ids, { allOrNone: true });
    return { created, updated, titles: read.map((r) => r.Title), upserted, partial, deleted };
  });
  // Composite: later subrequests use earlier answers; allOrNone rolls back; a failed reference halts.
  const sub = (method, path, referenceId, body) => ({
    method,
    url: `/services/data/v${version}${path}`,
    referenceId,
    ...(body ? { body } : {}),
  });
  await step('composite', async () =>
    conn.requestPost(`/services/data/v${version}/composite`, {
      allOrNone: true,
      compositeRequest: [
        sub('POST', '/sobjects/Account', 'acct', { Name: 'Composite Ltd' }),
        sub('POST', '/sobjects/Contact', 'person', { LastName: 'Composite', AccountId: '@{acct.id}' }),
        sub('GET', '/sobjects/Contact/@{person.id}?fields=AccountId,LastName', 'check'),
        sub('GET', "/query?q=SELECT+Id+FROM+Contact+WHERE+LastName='Composite'", 'found'),
        sub('PATCH', '/sobjects/Contact/@{found.records[0].Id}', 'rename', { Title: 'Composed' }),
      ],
    }),
  );
  await step('composite_rollback', async () => {
    const res = await conn.requestPost(`/services/data/v${version}/composite`, {
      allOrNone: true,
      compositeRequest: [
        sub('POST', '/sobjects/Account', 'acct', { Name: 'Rolled Back Ltd' }),
        sub('POST', '/sobjects/Contact', 'bad', { FirstName: 'No last name' }),
        sub('POST', '/sobjects/Contact', 'never', { LastName: 'Never' }),
      ],
    });
    const left = await conn.query("SELECT COUNT() FROM Account WHERE Name = 'Rolled Back Ltd'");
    return { res, left: left.totalSize };
  });
  await step('composite_partial', async () =>
    conn.requestPost(`/services/data/v${version}/composite`, {
      allOrNone: false,
      compositeRequest: [
        sub('POST', '/sobjects/Contact', 'bad', { FirstName: 'No last name' }),
        sub('PATCH', '/sobjects/Contact/@{bad.id}', 'dependent', { Title: 'x' }),
        sub('POST', '/sobjects/Contact', 'fine', { LastName: 'Independent' }),
      ],
    }),
  );

  // The composite's allOrNone overrides a Collections subrequest's allOrNone: false.
  await step('composite_collection', async () => {
    const res = await conn.requestPost(`/services/data/v${version}/composite`, {
      allOrNone: true,
      compositeRequest: [
        sub('POST', '/composite/sobjects', 'people', {
          allOrNone: false,
          records: [
            { attributes: { type: 'Contact' }, LastName: 'Kept?' },
            { attributes: { type: 'Contact' }, FirstName: 'No last name' },
          ],
        }),
        sub('POST', '/sobjects/Contact', 'after', { LastName: 'After' }),
      ],
    });
    const kept = await conn.query("SELECT COUNT() FROM Contact WHERE LastName IN ('Kept?', 'After')");
    return { res, kept: kept.totalSize };
  });
  await step('composite_batch', async () => {
    const v = `v${version}`;
    const batch = (haltOnError) =>
      conn.requestPost(`/services/data/${v}/composite/batch`, {
        haltOnError,
        batchRequests: [
          { method: 'POST', url: `${v}/sobjects/Contact`, richInput: { LastName: 'Batched' } },
          { method: 'GET', url: `${v}/sobjects/Contact/003000000000000AAA` },
          { method: 'GET', url: `${v}/query?q=SELECT+COUNT()+FROM+Contact+WHERE+LastName='Batched'` },
        ],
      });
    return { going: await batch(false), halting: await batch(true) };
  });
  // Bulk API 2.0: an ingest job and a query job.
  await step('bulk_ingest', async () => {
    const res = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'insert',
      input: CSV,
      pollTimeout: 30000,
      pollInterval: 200,
    });
    return {
      successful: res.successfulResults.length,
      failed: res.failedResults.length,
      created: res.successfulResults.map((r) => r.sf__Created),
      ids: res.successfulResults.map((r) => r.sf__Id),
    };
  });
  await step('bulk_query', async () => {
    const rows = await conn.bulk2.query("SELECT Id, LastName FROM Contact WHERE LastName = 'Lovelace'", {
      pollTimeout: 30000,
      pollInterval: 200,
    });
    const records = [];
    for await (const r of rows) records.push(r);
    return { records: records.map((r) => r.LastName) };
  });

  // More of jsforce's query surface: queryAll, batch size, child subqueries, aggregates, '*'.
  await step('query_more', async () => {
    const small = await conn.query('SELECT Id FROM Contact', {
      headers: { 'Sforce-Query-Options': 'batchSize=500' },
    });
    const deleted = await conn.query('SELECT Id FROM Contact WHERE IsDeleted = true').scanAll(true);
    const nested = await conn
      .sobject('Account')
      .select('Id, Name')
      .include('Contacts')
      .select('LastName')
      .sort('LastName')
      .limit(2)
      .end()
      .where("Name != null")
      .limit(3);
    const groups = await conn.query(
      'SELECT LeadSource, COUNT(Id) n FROM Contact GROUP BY LeadSource ORDER BY COUNT(Id) DESC',
    );
    const star = await conn.sobject('Contact').select('*').limit(1);
    const count = await conn.sobject('Contact').count({ LastName: 'Lovelace' });
    return {
      smallPage: small.records.length,
      deleted: deleted.totalSize,
      nested: nested.map((a) => (a.Contacts ? a.Contacts.records.length : 0)),
      groups: groups.records.map((g) => g.n),
      starFields: Object.keys(star[0]).length,
      count,
      limitInfo: conn.limitInfo,
    };
  });
  // Bulk API 2.0: update and delete jobs, and failed rows.
  await step('bulk_update_delete', async () => {
    const found = await conn.sobject('Contact').find({ LastName: 'Lovelace' }, ['Id']);
    const upd = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'update',
      input: `Id,Title\n${found[0].Id},Countess\n003000000000000AAA,Nobody\n`,
      pollTimeout: 30000,
      pollInterval: 200,
    });
    const del = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'delete',
      input: `Id\n${found[0].Id}\n`,
      pollTimeout: 30000,
      pollInterval: 200,
    });
    return {
      updated: upd.successfulResults.length,
      failed: upd.failedResults.map((r) => r.sf__Error),
      deleted: del.successfulResults.map((r) => r.sf__Id),
      lovelace: found[0].Id,
    };
  });
  await step('bulk_query_all', async () => {
    const rows = await conn.bulk2.query('SELECT Id FROM Contact', { pollTimeout: 30000, pollInterval: 200 });
    let n = 0;
    for await (const r of rows) if (r.Id) n += 1;
    return n;
  });

  // Other resources jsforce offers.
  await step('limits', async () => Object.keys(await conn.limits()).includes('DailyApiRequests'));
  await step('recent', async () => (await conn.recent()).length);
  // Error shapes.
  await step('bad_query', async () => conn.query('SELECT Id FROM Contact WHERE'));
  await step('bad_field', async () => conn.query('SELECT NoSuchField__c FROM Contact'));
  await step('missing_record', async () => conn.sobject('Contact').retrieve('003000000000000AAA'));
  await step('bad_login', async () => connection().login(creds.username, 'wrong-password'));

  // Logout revokes the token: the next call is refused.
  await step('logout', async () => {
    const c = connection();
    await c.authorize({ grant_type: 'client_credentials' });
    const token = c.accessToken;
    await c.logout();
    const after = new jsforce.Connection({ instanceUrl: url, accessToken: token, version });
    try {
      await after.query('SELECT Id FROM Account LIMIT 1');
      return { refused: false };
    } catch (err) {
      return { refused: true, error: errorShape(err) };
    }
  });
}

(process.argv[2] === 'replication' ? replication() : main())
  .catch((err) => {
    out.fatal = errorShape(err);
  })
  .finally(() => {
    process.stdout.write(JSON.stringify(out));
  });
