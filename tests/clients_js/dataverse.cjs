// msal-node and DynamicsWebApi, unchanged, against the crmframes Dataverse sandbox.
// Reads SANDBOX_URL and SANDBOX_CREDENTIALS (JSON) from the environment; Node trusts the sandbox CA
// through NODE_EXTRA_CA_CERTS. Prints one JSON object: each step's result or its error.
'use strict';
const msal = require('@azure/msal-node');
const { DynamicsWebApi } = require('dynamics-web-api');

const url = process.env.SANDBOX_URL;
const creds = JSON.parse(process.env.SANDBOX_CREDENTIALS);
const scopes = [`${url}/.default`];
const out = {};

function errorShape(err) {
  return {
    name: err.name,
    status: err.status,
    code: err.code,
    errorCode: err.errorCode,
    message: String(err.message),
    error: err.error, // DynamicsWebApi puts a $batch part's Dataverse error here
  };
}

async function step(name, fn) {
  try {
    out[name] = { ok: await fn() };
  } catch (err) {
    out[name] = { error: errorShape(err) };
  }
}

const auth = {
  clientId: creds.client_id,
  authority: `${url}/${creds.tenant_id}`,
  knownAuthorities: [new URL(url).host],
};

function confidential() {
  return new msal.ConfidentialClientApplication({
    auth: { ...auth, clientSecret: creds.client_secret },
  });
}

function api(token) {
  return new DynamicsWebApi({
    serverUrl: url,
    dataApi: { version: '9.2' },
    onTokenRefresh: async () => token,
  });
}

const PEOPLE = `<fetch top="3">
  <entity name="contact">
    <attribute name="fullname"/>
    <attribute name="lastname"/>
    <order attribute="lastname"/>
  </entity>
</fetch>`;

const PAGED = `<fetch count="2000">
  <entity name="contact">
    <attribute name="contactid"/>
  </entity>
</fetch>`;

async function main() {
  // Login: client credentials, then username-password and the refresh token it returns.
  let token;
  await step('client_credentials', async () => {
    const res = await confidential().acquireTokenByClientCredential({ scopes });
    token = res.accessToken;
    return { tokenType: res.tokenType, hasToken: Boolean(res.accessToken) };
  });
  let refreshToken;
  await step('password', async () => {
    const app = new msal.PublicClientApplication({ auth });
    const res = await app.acquireTokenByUsernamePassword({
      scopes,
      username: creds.username,
      password: creds.password,
    });
    const cache = JSON.parse(app.getTokenCache().serialize());
    refreshToken = Object.values(cache.RefreshToken || {})[0]?.secret;
    return { username: res.account?.username, hasRefresh: Boolean(refreshToken) };
  });
  await step('refresh', async () => {
    const res = await confidential().acquireTokenByRefreshToken({ refreshToken, scopes });
    const who = await api(res.accessToken).callFunction('WhoAmI');
    return { hasToken: Boolean(res.accessToken), userId: who.UserId };
  });
  const dv = api(token);

  await step('whoami', async () => {
    const who = await dv.callFunction('WhoAmI');
    return { UserId: who.UserId, OrganizationId: who.OrganizationId };
  });

  // Describe: entity metadata, its attributes, and the CSDL document.
  await step('describe', async () => {
    const entity = await dv.retrieveEntity({ key: "LogicalName='contact'", select: ['LogicalName', 'EntitySetName', 'PrimaryIdAttribute'] });
    const attributes = await dv.retrieveAttributes({ entityKey: "LogicalName='contact'", select: ['LogicalName'] });
    const csdl = await dv.retrieveCsdlMetadata();
    return {
      entity: { LogicalName: entity.LogicalName, EntitySetName: entity.EntitySetName, PrimaryIdAttribute: entity.PrimaryIdAttribute },
      attributes: attributes.value.map((a) => a.LogicalName),
      csdl: csdl.includes('EntityType Name="contact"'),
    };
  });

  // Query with paging: one page and its @odata.nextLink, then retrieveAll; counts.
  await step('query_pages', async () => {
    const first = await dv.retrieveMultiple({ collection: 'contacts', select: ['contactid'], maxPageSize: 2000 });
    const second = await dv.retrieveMultiple({ collection: 'contacts', select: ['contactid'], maxPageSize: 2000 }, first.oDataNextLink);
    const all = await dv.retrieveAll({ collection: 'contacts', select: ['contactid'], maxPageSize: 2000 });
    const count = await dv.countAll({ collection: 'contacts', select: ['contactid'] });
    const filtered = await dv.retrieveMultiple({
      collection: 'accounts',
      select: ['name', 'numberofemployees'],
      filter: 'numberofemployees gt 5000',
      orderBy: ['numberofemployees desc'],
      top: 5,
    });
    return {
      firstPage: first.value.length,
      hasNext: Boolean(first.oDataNextLink),
      secondPage: second.value.length,
      all: all.value.length,
      distinct: new Set(all.value.map((r) => r.contactid)).size,
      count,
      employees: filtered.value.map((r) => r.numberofemployees),
    };
  });

  // FetchXML: top, then paging by page number and cookie (fetchAll).
  await step('fetchxml', async () => {
    const top = await dv.fetch({ collection: 'contacts', fetchXml: PEOPLE });
    // Dataverse returns the paging cookie only when asked for it (Prefer: odata.include-annotations).
    const all = await dv.fetchAll({
      collection: 'contacts',
      fetchXml: PAGED,
      includeAnnotations: 'Microsoft.Dynamics.CRM.fetchxmlpagingcookie',
    });
    return {
      top: top.value.map((r) => Object.keys(r).filter((k) => !k.startsWith('@')).sort()),
      all: all.value.length,
      distinct: new Set(all.value.map((r) => r.contactid)).size,
    };
  });

  // Create / retrieve / update / upsert / delete.
  await step('crud', async () => {
    const id = await dv.create({ collection: 'contacts', data: { firstname: 'Grace', lastname: 'Hopper' } });
    const created = await dv.retrieve({ collection: 'contacts', key: id, select: ['fullname'] });
    await dv.update({ collection: 'contacts', key: id, data: { telephone1: '555-0199' } });
    const updated = await dv.retrieve({ collection: 'contacts', key: id, select: ['telephone1'] });
    const upserted = await dv.upsert({
      collection: 'contacts',
      key: "crmf_externalid='JS-0001'",
      data: { lastname: 'Liskov' },
      returnRepresentation: true,
      select: ['lastname', 'crmf_externalid'],
    });
    const represented = await dv.create({
      collection: 'contacts',
      data: { lastname: 'Noether' },
      returnRepresentation: true,
      select: ['lastname'],
    });
    await dv.deleteRecord({ collection: 'contacts', key: id });
    let afterDelete = null;
    try {
      await dv.retrieve({ collection: 'contacts', key: id });
    } catch (err) {
      afterDelete = errorShape(err);
    }
    return {
      guid: /^[0-9a-f-]{36}$/.test(id),
      fullname: created.fullname,
      telephone1: updated.telephone1,
      upserted: { lastname: upserted.lastname, crmf_externalid: upserted.crmf_externalid },
      represented: represented.lastname,
      afterDelete,
    };
  });

  // CreateMultiple through callAction, bound to the entity set.
  await step('create_multiple', async () => {
    const res = await dv.callAction({
      collection: 'contacts',
      actionName: 'Microsoft.Dynamics.CRM.CreateMultiple',
      action: {
        Targets: [
          { '@odata.type': 'Microsoft.Dynamics.CRM.contact', lastname: 'Curie' },
          { '@odata.type': 'Microsoft.Dynamics.CRM.contact', lastname: 'Meitner' },
        ],
      },
    });
    return { ids: res.Ids.length };
  });

  // $batch: a changeset with a Content-ID reference, then reads outside it.
  await step('batch', async () => {
    dv.startBatch();
    dv.create({ collection: 'accounts', data: { name: 'Batch Ltd' }, contentId: '1' });
    dv.create({
      collection: 'contacts',
      data: { lastname: 'Batch', 'parentcustomerid_account@odata.bind': '$1' },
    });
    const ids = await dv.executeBatch();
    dv.startBatch();
    dv.retrieve({ collection: 'accounts', key: ids[0], select: ['name'] });
    dv.retrieve({ collection: 'contacts', key: ids[1], select: ['_parentcustomerid_value'] });
    const reads = await dv.executeBatch();
    return {
      created: ids.length,
      name: reads[0].name,
      linked: reads[1]._parentcustomerid_value === ids[0],
    };
  });

  // More of DynamicsWebApi: expand, annotations, change tracking, optimistic concurrency,
  // single-property writes, UpdateMultiple / UpsertMultiple, a failing changeset.
  await step('more', async () => {
    const withAccount = await dv.retrieveMultiple({
      collection: 'contacts',
      select: ['fullname', '_parentcustomerid_value', 'statecode'],
      filter: '_parentcustomerid_value ne null',
      includeAnnotations: '*',
      top: 2,
    });
    const tracked = await dv.retrieveMultiple({ collection: 'accounts', select: ['name'], trackChanges: true });
    const id = await dv.create({ collection: 'contacts', data: { lastname: 'Etag' } });
    const read = await dv.retrieve({ collection: 'contacts', key: id, select: ['lastname'] });
    // DynamicsWebApi answers false when If-Match fails (412): the second update has a stale etag.
    const fresh = await dv.update({ collection: 'contacts', key: id, data: { lastname: 'Two' }, ifmatch: read['@odata.etag'] });
    const stale = await dv.update({ collection: 'contacts', key: id, data: { lastname: 'One' }, ifmatch: read['@odata.etag'] });
    // If-Match: * turns an upsert into an update: a missing record is not created.
    const ghost = '00000000-0000-0000-0000-0000000000aa';
    const noCreate = await dv.upsert({ collection: 'contacts', key: ghost, data: { lastname: 'Nope' }, ifmatch: '*' });
    let ghostRead = null;
    try {
      await dv.retrieve({ collection: 'contacts', key: ghost });
    } catch (err) {
      ghostRead = errorShape(err).status;
    }
    await dv.updateSingleProperty({ collection: 'contacts', key: id, fieldValuePair: { jobtitle: 'Admiral' } });
    const title = (await dv.retrieve({ collection: 'contacts', key: id, select: ['jobtitle'] })).jobtitle;
    await dv.deleteRecord({ collection: 'contacts', key: id, fieldName: 'jobtitle' });
    const cleared = (await dv.retrieve({ collection: 'contacts', key: id, select: ['jobtitle'] })).jobtitle;
    await dv.callAction({
      collection: 'contacts',
      actionName: 'Microsoft.Dynamics.CRM.UpdateMultiple',
      action: { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.contact', contactid: id, firstname: 'Ada' }] },
    });
    await dv.callAction({
      collection: 'contacts',
      actionName: 'Microsoft.Dynamics.CRM.UpsertMultiple',
      action: {
        Targets: [
          { '@odata.type': 'Microsoft.Dynamics.CRM.contact', '@odata.id': "contacts(crmf_externalid='JS-0009')", lastname: 'Upserted' },
        ],
      },
    });
    const multiple = await dv.retrieveMultiple({
      collection: 'contacts',
      select: ['firstname', 'lastname'],
      filter: `contactid eq ${id} or crmf_externalid eq 'JS-0009'`,
      orderBy: ['lastname'],
    });
    dv.startBatch();
    dv.create({ collection: 'accounts', data: { name: 'Rolled back' } });
    dv.create({ collection: 'contacts', data: { firstname: 'No last name' } });
    let changeset = null;
    try {
      await dv.executeBatch();
    } catch (err) {
      changeset = Array.isArray(err) ? err.map(errorShape) : errorShape(err);
    }
    const rolledBack = await dv.countAll({ collection: 'accounts', filter: "name eq 'Rolled back'" });
    return {
      annotations: {
        lookup: withAccount.value[0]._parentcustomerid_value_LogicalName,
        formatted: withAccount.value[0].statecode_Formatted,
      },
      deltaLink: Boolean(tracked.oDataDeltaLink),
      fresh,
      stale,
      noCreate,
      ghostRead,
      title,
      cleared,
      multiple: multiple.value.map((r) => [r.firstname ?? null, r.lastname]),
      changeset,
      rolledBack,
    };
  });
  // $ref: set and clear a lookup through its single-valued navigation property.
  await step('associate', async () => {
    const account = (await dv.retrieveMultiple({ collection: 'accounts', select: ['accountid'], top: 1 })).value[0].accountid;
    const contact = await dv.create({ collection: 'contacts', data: { lastname: 'Associated' } });
    const lookup = async () =>
      (await dv.retrieve({ collection: 'contacts', key: contact, select: ['_parentcustomerid_value'] }))._parentcustomerid_value ?? null;
    await dv.associateSingleValued({
      collection: 'contacts',
      primaryKey: contact,
      navigationProperty: 'parentcustomerid_account',
      relatedCollection: 'accounts',
      relatedKey: account,
    });
    const set = (await lookup()) === account;
    await dv.disassociateSingleValued({ collection: 'contacts', primaryKey: contact, navigationProperty: 'parentcustomerid_account' });
    const cleared = await lookup();
    let collection = null;
    try {
      await dv.associate({
        collection: 'accounts',
        primaryKey: account,
        relationshipName: 'account_contact_parentcustomerid',
        relatedCollection: 'contacts',
        relatedKey: contact,
      });
    } catch (err) {
      collection = errorShape(err);
    }
    return { set, cleared, collection };
  });
  await step('device_code', async () => {
    const app = new msal.PublicClientApplication({ auth });
    let shown = null;
    const res = await app.acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (info) => {
        shown = { userCode: Boolean(info.userCode), verificationUri: info.verificationUri };
      },
    });
    return { shown, hasToken: Boolean(res.accessToken) };
  });

  // Error shapes.
  await step('expand', async () =>
    dv.retrieveMultiple({
      collection: 'contacts',
      select: ['fullname'],
      expand: [{ property: 'parentcustomerid_account', select: ['name'] }],
      top: 1,
    }),
  );
  await step('bad_filter', async () => dv.retrieveMultiple({ collection: 'contacts', filter: 'lastname eq' }));
  await step('bad_select', async () => dv.retrieveMultiple({ collection: 'contacts', select: ['nosuchcolumn'] }));
  await step('unknown_set', async () => dv.retrieveMultiple({ collection: 'nosuchthings' }));
  await step('missing_record', async () => dv.retrieve({ collection: 'contacts', key: '00000000-0000-0000-0000-000000000001' }));
  await step('bad_secret', async () => {
    const app = new msal.ConfidentialClientApplication({ auth: { ...auth, clientSecret: 'wrong' } });
    return app.acquireTokenByClientCredential({ scopes });
  });
}

main()
  .catch((err) => {
    out.fatal = errorShape(err);
  })
  .finally(() => {
    process.stdout.write(JSON.stringify(out));
  });
